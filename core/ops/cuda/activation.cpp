// Elementwise activations on CUDA: the Tensor entry points of core/ops/cuda/activation.cu, with the CPU op's
// checks.
#include "core/ops/cuda/activation_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {

void gelu_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "gelu_forward";
  require_defined(op, "in", in);
  require_shape(op, "out", out, in.shape());
  require_dtype(op, in.dtype(), {&out});
  const cudaStream_t stream = stream_for(op, {&out, &in});
  require_kernel_dtype(op, in.dtype());
  TRIDENT_CUDA_CHECK(launch_gelu_forward(out.raw(), in.raw(), in.numel(), in.dtype(), stream));
}

void gelu_backward(Tensor& din, const Tensor& dout, const Tensor& in) {
  constexpr std::string_view op = "gelu_backward";
  require_defined(op, "in", in);
  require_shape(op, "dout", dout, in.shape());
  require_shape(op, "din", din, in.shape());
  require_dtype(op, in.dtype(), {&din, &dout});
  const cudaStream_t stream = stream_for(op, {&din, &dout, &in});
  require_kernel_dtype(op, in.dtype());
  TRIDENT_CUDA_CHECK(launch_gelu_backward(din.raw(), dout.raw(), in.raw(), in.numel(), in.dtype(), stream));
}

void swiglu_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "swiglu_forward";
  require_defined(op, "in", in);
  require_defined(op, "out", out);
  TRIDENT_CHECK(in.ndim() >= 1 && in.dim(-1) % 2 == 0, "ops::swiglu_forward: in {} should be (N, 2F)",
                in.str());
  const int64_t f = in.dim(-1) / 2;
  const int64_t n = rows_of(op, "in", in, 2 * f);
  TRIDENT_CHECK(rows_of(op, "out", out, f) == n, "ops::swiglu_forward: out {} should be (N, F) for in {}",
                out.str(), in.str());
  require_dtype(op, in.dtype(), {&out});
  const cudaStream_t stream = stream_for(op, {&out, &in});
  require_kernel_dtype(op, in.dtype());
  TRIDENT_CUDA_CHECK(launch_swiglu_forward(out.raw(), in.raw(), n, f, in.dtype(), stream));
}

void swiglu_backward(Tensor& din, const Tensor& dout, const Tensor& in) {
  constexpr std::string_view op = "swiglu_backward";
  require_defined(op, "in", in);
  TRIDENT_CHECK(in.ndim() >= 1 && in.dim(-1) % 2 == 0, "ops::swiglu_backward: in {} should be (N, 2F)",
                in.str());
  const int64_t f = in.dim(-1) / 2;
  const int64_t n = rows_of(op, "in", in, 2 * f);
  TRIDENT_CHECK(rows_of(op, "dout", dout, f) == n, "ops::swiglu_backward: dout {} should be (N, F) for in {}",
                dout.str(), in.str());
  require_shape(op, "din", din, in.shape());
  require_dtype(op, in.dtype(), {&din, &dout});
  const cudaStream_t stream = stream_for(op, {&din, &dout, &in});
  require_kernel_dtype(op, in.dtype());
  TRIDENT_CUDA_CHECK(launch_swiglu_backward(din.raw(), dout.raw(), in.raw(), n, f, in.dtype(), stream));
}

}  // namespace trident::ops::cuda
