// RMSNorm on CUDA: stream choice and launch of rmsnorm.cu, after the checks of core/ops/rmsnorm.cpp.
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/cuda/rmsnorm_launch.h"

namespace trident::ops::cuda {
namespace {

// Shared by both forwards: the kernels' dtypes (rstd f32). Returns N.
int64_t check_forward(std::string_view op, Tensor& out, Tensor& rstd, const Tensor& in,
                      const Tensor& weight) {
  require_kernel_dtype(op, in.dtype(), {&out, &weight});
  require_stat_dtype(op, {&rstd});
  return in.numel() / std::max<int64_t>(weight.dim(0), 1);
}

}  // namespace

void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& in, const Tensor& weight, double eps) {
  constexpr std::string_view op = "rmsnorm_forward";
  const cudaStream_t stream = stream_for(op, {&out, &rstd, &in, &weight});
  const int64_t n = check_forward(op, out, rstd, in, weight);
  TRIDENT_CUDA_CHECK(launch_rmsnorm_forward(out.raw(), rstd.data<float>(), in.raw(), weight.raw(), n,
                                            weight.dim(0), static_cast<float>(eps), in.dtype(), stream));
}

void rmsnorm_backward(Tensor& din, Tensor& dweight, const Tensor& dout, const Tensor& in,
                      const Tensor& weight, const Tensor& rstd) {
  constexpr std::string_view op = "rmsnorm_backward";
  const cudaStream_t stream = stream_for(op, {&din, &dweight, &dout, &in, &weight, &rstd});
  const int64_t c = weight.dim(0), n = in.numel() / std::max<int64_t>(c, 1);
  require_kernel_dtype(op, in.dtype(), {&din, &dweight, &dout, &weight});
  require_stat_dtype(op, {&rstd});
  Tensor partials;  // (chunks, C): per-chunk column sums for dweight
  if (dweight.defined() && n > 0 && c > 0)
    partials = Tensor::empty({rmsnorm_dweight_chunks(n, c), c}, DType::f32, in.device());
  TRIDENT_CUDA_CHECK(launch_rmsnorm_backward(
      din.defined() ? din.raw() : nullptr, dweight.defined() ? dweight.raw() : nullptr,
      partials.defined() ? partials.data<float>() : nullptr, dout.raw(), in.raw(), weight.raw(),
      rstd.data<float>(), n, c, in.dtype(), stream));
}

void residual_rmsnorm_forward(Tensor& residual, Tensor& out, Tensor& rstd, const Tensor& x, const Tensor& y,
                              const Tensor& weight, double eps) {
  constexpr std::string_view op = "residual_rmsnorm_forward";
  const cudaStream_t stream = stream_for(op, {&residual, &out, &rstd, &x, &y, &weight});
  require_dtype(op, x.dtype(), {&y, &residual});
  const int64_t n = check_forward(op, out, rstd, x, weight);
  TRIDENT_CUDA_CHECK(launch_residual_rmsnorm_forward(residual.raw(), out.raw(), rstd.data<float>(), x.raw(),
                                                     y.raw(), weight.raw(), n, weight.dim(0),
                                                     static_cast<float>(eps), x.dtype(), stream));
}

}  // namespace trident::ops::cuda
