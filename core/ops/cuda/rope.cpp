// RoPE on CUDA: stream choice and launch of rope.cu, after the checks of core/ops/rope.cpp.
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/cuda/rope_launch.h"

namespace trident::ops::cuda {
namespace {

void rope(std::string_view op, Tensor& out, const Tensor& in, double theta, int64_t pos0, double sign) {
  const cudaStream_t stream = stream_for(op, {&out, &in});
  require_kernel_dtype(op, in.dtype(), {&out});
  const int64_t b = in.dim(0), t = in.dim(1), h = in.dim(2), d = in.dim(3);
  if (in.numel() == 0) return;
  Tensor table = Tensor::empty({t, d / 2, 2}, DType::f32, in.device());  // (T, D/2) of (cos, sin)
  TRIDENT_CUDA_CHECK(launch_rope(out.raw(), in.raw(), table.data<float>(), b, t, h, d, theta, pos0, sign,
                                 in.dtype(), stream));
}

}  // namespace

void rope_forward(Tensor& out, const Tensor& in, double theta, int64_t pos0) {
  rope("rope_forward", out, in, theta, pos0, 1.0);
}

// The rotation is orthogonal, so its transpose (backward) is the rotation by the opposite angle.
void rope_backward(Tensor& din, const Tensor& dout, double theta, int64_t pos0) {
  rope("rope_backward", din, dout, theta, pos0, -1.0);
}

}  // namespace trident::ops::cuda
