#include "models/norm.h"

#include "core/ops/ops.h"
#include "core/runtime/spans.h"

namespace trident::models {

Norm::Norm(ParamSet& params, const std::string& name, int64_t channels, bool layernorm, double eps,
           bool sequence_parallel)
    : layernorm_(layernorm), eps_(eps) {
  weight_ = &params.add(name + ".weight", {channels}, {Init::ones});
  if (layernorm) bias_ = &params.add(name + ".bias", {channels}, {Init::zeros});
  if (sequence_parallel) {
    weight_->partial = GradPartial::tensor;
    if (bias_) bias_->partial = GradPartial::tensor;
  }
}

namespace {
void ensure_outputs(NormActs& acts, const Tensor& in, bool layernorm) {
  const int64_t rows = in.numel() / in.dim(-1);
  ensure(acts.out, in.shape(), in.dtype(), in.device());
  ensure(acts.rstd, {rows}, stat_dtype(in.dtype()), in.device());
  if (layernorm) ensure(acts.mean, {rows}, stat_dtype(in.dtype()), in.device());
}
}  // namespace

void Norm::forward(NormActs& acts, const Tensor& in) const {
  spans::Span span(spans::Kind::norm, spans::Phase::forward, 0, 2.0 * in.nbytes());  // read x, write out
  ensure_outputs(acts, in, layernorm_);
  if (layernorm_) {
    ops::layernorm_forward(acts.out, acts.mean, acts.rstd, in, weight_->value, bias_->value, eps_);
  } else {
    ops::rmsnorm_forward(acts.out, acts.rstd, in, weight_->value, eps_);
  }
}

void Norm::forward_residual(NormActs& acts, Tensor& residual, const Tensor& x, const Tensor& y) const {
  spans::Span span(spans::Kind::norm, spans::Phase::forward, 0, 4.0 * x.nbytes());  // x, y in; sum, out
  ensure_outputs(acts, x, layernorm_);
  if (layernorm_) {
    ops::residual_layernorm_forward(residual, acts.out, acts.mean, acts.rstd, x, y, weight_->value,
                                    bias_->value, eps_);
  } else {
    ops::residual_rmsnorm_forward(residual, acts.out, acts.rstd, x, y, weight_->value, eps_);
  }
}

void Norm::backward(Tensor& din, const Tensor& dout, const Tensor& in, const NormActs& acts) const {
  spans::Span span(spans::Kind::norm, spans::Phase::backward, 0, 3.0 * in.nbytes());  // dout, x in; din out
  if (layernorm_) {
    ops::layernorm_backward(din, weight_->grad, bias_->grad, dout, in, weight_->value, acts.mean, acts.rstd);
  } else {
    ops::rmsnorm_backward(din, weight_->grad, dout, in, weight_->value, acts.rstd);
  }
}

}  // namespace trident::models
