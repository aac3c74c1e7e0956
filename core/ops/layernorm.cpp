// LayerNorm: the one entry of each op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {
namespace {

using namespace checks;

// weight (C), bias (C) or undefined, out like `in`, mean and rstd (N).
void check_forward(std::string_view op, const Tensor& out, const Tensor& mean, const Tensor& rstd,
                   const Tensor& in, const Tensor& weight, const Tensor& bias) {
  require_defined(op, "in", in);
  const int64_t n = channel_rows(op, in, weight);
  require_shape(op, "out", out, in.shape());
  if (bias.defined()) require_shape(op, "bias", bias, {weight.dim(0)});
  require_numel(op, "mean", mean, n);
  require_numel(op, "rstd", rstd, n);
  require_compute_dtype(op, in, {&out, &mean, &rstd, &weight, &bias});
}

}  // namespace

void layernorm_forward(Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& in, const Tensor& weight,
                       const Tensor& bias, double eps) {
  check_forward("layernorm_forward", out, mean, rstd, in, weight, bias);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, mean, rstd, in, weight, bias))
      return cuda::layernorm_forward(out, mean, rstd, in, weight, bias, eps);
  cpu::layernorm_forward(out, mean, rstd, in, weight, bias, eps);
}

void layernorm_backward(Tensor& din, Tensor& dweight, Tensor& dbias, const Tensor& dout, const Tensor& in,
                        const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  constexpr std::string_view op = "layernorm_backward";
  const int64_t n = channel_rows(op, in, weight);
  const int64_t c = weight.dim(0);
  require_shape(op, "dout", dout, in.shape());
  if (din.defined()) require_shape(op, "din", din, in.shape());
  if (dweight.defined()) require_shape(op, "dweight", dweight, {c});
  if (dbias.defined()) require_shape(op, "dbias", dbias, {c});
  require_numel(op, "mean", mean, n);
  require_numel(op, "rstd", rstd, n);
  require_compute_dtype(op, in, {&din, &dweight, &dbias, &dout, &weight, &mean, &rstd});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(din, dweight, dbias, dout, in, weight, mean, rstd))
      return cuda::layernorm_backward(din, dweight, dbias, dout, in, weight, mean, rstd);
  cpu::layernorm_backward(din, dweight, dbias, dout, in, weight, mean, rstd);
}

void residual_layernorm_forward(Tensor& residual, Tensor& out, Tensor& mean, Tensor& rstd, const Tensor& x,
                                const Tensor& y, const Tensor& weight, const Tensor& bias, double eps) {
  constexpr std::string_view op = "residual_layernorm_forward";
  require_defined(op, "x", x);
  require_shape(op, "y", y, x.shape());
  require_shape(op, "residual", residual, x.shape());
  require_compute_dtype(op, x, {&y, &residual});
  check_forward(op, out, mean, rstd, x, weight, bias);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(residual, out, mean, rstd, x, y, weight, bias))
      return cuda::residual_layernorm_forward(residual, out, mean, rstd, x, y, weight, bias, eps);
  cpu::add(residual, x, y);  // on the CPU, fusing saves nothing: the reference is the two ops
  cpu::layernorm_forward(out, mean, rstd, residual, weight, bias, eps);
}

}  // namespace trident::ops
