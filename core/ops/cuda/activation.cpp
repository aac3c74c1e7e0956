// Elementwise activations on CUDA: stream choice and launch of core/ops/cuda/activation.cu, after the checks
// of core/ops/activation.cpp.
#include "core/ops/cuda/activation_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {

void gelu_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "gelu_forward";
  const cudaStream_t stream = stream_for(op, {&out, &in});
  require_kernel_dtype(op, in.dtype(), {&out});
  TRIDENT_CUDA_CHECK(launch_gelu_forward(out.raw(), in.raw(), in.numel(), in.dtype(), stream));
}

void gelu_backward(Tensor& din, const Tensor& dout, const Tensor& in) {
  constexpr std::string_view op = "gelu_backward";
  const cudaStream_t stream = stream_for(op, {&din, &dout, &in});
  require_kernel_dtype(op, in.dtype(), {&din, &dout});
  TRIDENT_CUDA_CHECK(launch_gelu_backward(din.raw(), dout.raw(), in.raw(), in.numel(), in.dtype(), stream));
}

void swiglu_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "swiglu_forward";
  const cudaStream_t stream = stream_for(op, {&out, &in});
  require_kernel_dtype(op, in.dtype(), {&out});
  const int64_t f = in.dim(-1) / 2;
  TRIDENT_CUDA_CHECK(launch_swiglu_forward(out.raw(), in.raw(), out.numel() / std::max<int64_t>(f, 1), f,
                                           in.dtype(), stream));
}

void swiglu_backward(Tensor& din, const Tensor& dout, const Tensor& in) {
  constexpr std::string_view op = "swiglu_backward";
  const cudaStream_t stream = stream_for(op, {&din, &dout, &in});
  require_kernel_dtype(op, in.dtype(), {&din, &dout});
  const int64_t f = in.dim(-1) / 2;
  TRIDENT_CUDA_CHECK(launch_swiglu_backward(din.raw(), dout.raw(), in.raw(),
                                            dout.numel() / std::max<int64_t>(f, 1), f, in.dtype(), stream));
}

}  // namespace trident::ops::cuda
