// Softmax on CUDA: the Tensor entry points (checks as on the CPU, then the launchers of softmax.cu).
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/cuda/softmax_launch.h"

namespace trident::ops::cuda {

void softmax_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "softmax_forward";
  const cudaStream_t stream = stream_for(op, {&out, &in});
  require_defined(op, "in", in);
  TRIDENT_CHECK(in.ndim() >= 1, "ops::softmax_forward: in {} has no last dimension", in.str());
  require_shape(op, "out", out, in.shape());
  require_kernel_dtype(op, in.dtype());
  require_dtype(op, in.dtype(), {&out});
  const int64_t c = in.dim(-1);
  const int64_t n = rows_of(op, "in", in, c);
  TRIDENT_CUDA_CHECK(launch_softmax_forward(out.raw(), in.raw(), n, c, in.dtype(), stream));
}

void softmax_backward(Tensor& din, const Tensor& dout, const Tensor& out) {
  constexpr std::string_view op = "softmax_backward";
  const cudaStream_t stream = stream_for(op, {&din, &dout, &out});
  require_defined(op, "out", out);
  TRIDENT_CHECK(out.ndim() >= 1, "ops::softmax_backward: out {} has no last dimension", out.str());
  require_shape(op, "dout", dout, out.shape());
  require_shape(op, "din", din, out.shape());
  require_kernel_dtype(op, out.dtype());
  require_dtype(op, out.dtype(), {&din, &dout});
  const int64_t c = out.dim(-1);
  const int64_t n = rows_of(op, "out", out, c);
  TRIDENT_CUDA_CHECK(launch_softmax_backward(din.raw(), dout.raw(), out.raw(), n, c, out.dtype(), stream));
}

}  // namespace trident::ops::cuda
