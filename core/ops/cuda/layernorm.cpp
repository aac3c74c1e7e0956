// LayerNorm on CUDA: stream choice and launch of layernorm.cu, after the checks of core/ops/layernorm.cpp.
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/cuda/layernorm_launch.h"

namespace trident::ops::cuda {
namespace {

const void* raw_or_null(const Tensor& t) {
  return t.defined() ? t.raw() : nullptr;
}
void* raw_or_null(Tensor& t) {
  return t.defined() ? t.raw() : nullptr;
}

// Shared by both forwards: the kernels' dtypes (mean/rstd f32). Returns N.
int64_t check_forward(std::string_view op, Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in,
                      const Tensor& weight, const Tensor& bias) {
  require_kernel_dtype(op, in.dtype(), {&out, &weight, &bias});
  require_stat_dtype(op, {&mean, &rstd});
  return in.numel() / std::max<int64_t>(weight.dim(0), 1);
}

}  // namespace

void layernorm_forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in, const Tensor& weight,
                       const Tensor& bias, double eps) {
  constexpr std::string_view op = "layernorm_forward";
  const cudaStream_t stream = stream_for(op, {&out, &mean, &rstd, &in, &weight, &bias});
  const int64_t n = check_forward(op, out, mean, rstd, in, weight, bias);
  TRIDENT_CUDA_CHECK(launch_layernorm_forward(out.raw(), mean.data<float>(), rstd.data<float>(), in.raw(),
                                              weight.raw(), raw_or_null(bias), n, weight.dim(0),
                                              static_cast<float>(eps), in.dtype(), stream));
}

void layernorm_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                        const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  constexpr std::string_view op = "layernorm_backward";
  const cudaStream_t stream = stream_for(op, {&din, &dweight, &dbias, &dout, &in, &weight, &mean, &rstd});
  const int64_t c = weight.dim(0), n = in.numel() / std::max<int64_t>(c, 1);
  require_kernel_dtype(op, in.dtype(), {&din, &dweight, &dbias, &dout, &weight});
  require_stat_dtype(op, {&mean, &rstd});
  Tensor partials;  // (2, chunks, C): per-chunk column sums for dweight and dbias
  if ((dweight.defined() || dbias.defined()) && n > 0 && c > 0)
    partials = Tensor::empty({2, layernorm_dparams_chunks(n, c), c}, DType::f32, in.device());
  TRIDENT_CUDA_CHECK(launch_layernorm_backward(raw_or_null(din), raw_or_null(dweight), raw_or_null(dbias),
                                               partials.defined() ? partials.data<float>() : nullptr,
                                               dout.raw(), in.raw(), weight.raw(), mean.data<float>(),
                                               rstd.data<float>(), n, c, in.dtype(), stream));
}

void residual_layernorm_forward(Tensor& residual, Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& x,
                                const Tensor& y, const Tensor& weight, const Tensor& bias, double eps) {
  constexpr std::string_view op = "residual_layernorm_forward";
  const cudaStream_t stream = stream_for(op, {&residual, &out, &mean, &rstd, &x, &y, &weight, &bias});
  require_dtype(op, x.dtype(), {&y, &residual});
  const int64_t n = check_forward(op, out, mean, rstd, x, weight, bias);
  TRIDENT_CUDA_CHECK(launch_residual_layernorm_forward(
      residual.raw(), out.raw(), mean.data<float>(), rstd.data<float>(), x.raw(), y.raw(), weight.raw(),
      raw_or_null(bias), n, weight.dim(0), static_cast<float>(eps), x.dtype(), stream));
}

}  // namespace trident::ops::cuda
