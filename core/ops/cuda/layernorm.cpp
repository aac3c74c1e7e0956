// LayerNorm on CUDA: the Tensor entry points (checks as on the CPU, then the launchers of layernorm.cu).
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

// Shared by both forwards: weight (C), bias (C) or undefined, out like `in`, mean/rstd (N) f32. Returns N.
int64_t check_forward(std::string_view op, Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in,
                      const Tensor& weight, const Tensor& bias) {
  const int64_t n = checks::channel_rows(op, in, weight);
  const int64_t c = weight.dim(0);
  require_shape(op, "out", out, in.shape());
  if (bias.defined()) require_shape(op, "bias", bias, {c});
  require_numel(op, "mean", mean, n);
  require_numel(op, "rstd", rstd, n);
  require_kernel_dtype(op, in.dtype());
  require_dtype(op, in.dtype(), {&out, &weight, &bias});
  require_stat_dtype(op, {&mean, &rstd});
  return n;
}

}  // namespace

void layernorm_forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in, const Tensor& weight,
                       const Tensor& bias, double eps) {
  constexpr std::string_view op = "layernorm_forward";
  const cudaStream_t stream = stream_for(op, {&out, &mean, &rstd, &in, &weight, &bias});
  require_defined(op, "in", in);
  const int64_t n = check_forward(op, out, mean, rstd, in, weight, bias);
  TRIDENT_CUDA_CHECK(launch_layernorm_forward(out.raw(), mean.data<float>(), rstd.data<float>(), in.raw(),
                                              weight.raw(), raw_or_null(bias), n, weight.dim(0),
                                              static_cast<float>(eps), in.dtype(), stream));
}

void layernorm_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                        const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  constexpr std::string_view op = "layernorm_backward";
  const cudaStream_t stream = stream_for(op, {&din, &dweight, &dbias, &dout, &in, &weight, &mean, &rstd});
  const int64_t n = checks::channel_rows(op, in, weight);
  const int64_t c = weight.dim(0);
  require_shape(op, "dout", dout, in.shape());
  if (din.defined()) require_shape(op, "din", din, in.shape());
  if (dweight.defined()) require_shape(op, "dweight", dweight, {c});
  if (dbias.defined()) require_shape(op, "dbias", dbias, {c});
  require_numel(op, "mean", mean, n);
  require_numel(op, "rstd", rstd, n);
  require_kernel_dtype(op, in.dtype());
  require_dtype(op, in.dtype(), {&din, &dweight, &dbias, &dout, &weight});
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
  require_defined(op, "x", x);
  require_shape(op, "y", y, x.shape());
  require_shape(op, "residual", residual, x.shape());
  require_dtype(op, x.dtype(), {&y, &residual});
  const int64_t n = check_forward(op, out, mean, rstd, x, weight, bias);
  TRIDENT_CUDA_CHECK(launch_residual_layernorm_forward(
      residual.raw(), out.raw(), mean.data<float>(), rstd.data<float>(), x.raw(), y.raw(), weight.raw(),
      raw_or_null(bias), n, weight.dim(0), static_cast<float>(eps), x.dtype(), stream));
}

}  // namespace trident::ops::cuda
