// Softmax on CUDA: stream choice and launch of softmax.cu, after the checks of core/ops/softmax.cpp.
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/cuda/softmax_launch.h"

namespace trident::ops::cuda {

void softmax_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "softmax_forward";
  const cudaStream_t stream = stream_for(op, {&out, &in});
  require_kernel_dtype(op, in.dtype(), {&out});
  const int64_t c = in.dim(-1);
  const int64_t n = rows_of(op, "in", in, c);
  TRIDENT_CUDA_CHECK(launch_softmax_forward(out.raw(), in.raw(), n, c, in.dtype(), stream));
}

void softmax_backward(Tensor& din, const Tensor& dout, const Tensor& out) {
  constexpr std::string_view op = "softmax_backward";
  const cudaStream_t stream = stream_for(op, {&din, &dout, &out});
  require_kernel_dtype(op, out.dtype(), {&din, &dout});
  const int64_t c = out.dim(-1);
  const int64_t n = rows_of(op, "out", out, c);
  TRIDENT_CUDA_CHECK(launch_softmax_backward(din.raw(), dout.raw(), out.raw(), n, c, out.dtype(), stream));
}

}  // namespace trident::ops::cuda
