#include "models/norm.h"

#include "core/ops/ops.h"

namespace trident::models {

Norm::Norm(ParamSet& params, const std::string& name, int64_t channels, bool layernorm, double eps)
    : layernorm_(layernorm), eps_(eps) {
  weight_ = &params.add(name + ".weight", {channels}, {Init::ones});
  if (layernorm) bias_ = &params.add(name + ".bias", {channels}, {Init::zeros});
}

void Norm::forward(NormActs& acts, const Tensor& in) const {
  const int64_t rows = in.numel() / in.dim(-1);
  ensure(acts.out, in.shape(), in.dtype());
  ensure(acts.rstd, {rows}, stat_dtype(in.dtype()));
  if (layernorm_) {
    ensure(acts.mean, {rows}, stat_dtype(in.dtype()));
    ops::layernorm_forward(acts.out, acts.mean, acts.rstd, in, weight_->value, bias_->value, eps_);
  } else {
    ops::rmsnorm_forward(acts.out, acts.rstd, in, weight_->value, eps_);
  }
}

void Norm::backward(Tensor& din, const Tensor& dout, const Tensor& in, const NormActs& acts) const {
  if (layernorm_) {
    ops::layernorm_backward(din, weight_->grad, bias_->grad, dout, in, weight_->value, acts.mean, acts.rstd);
  } else {
    ops::rmsnorm_backward(din, weight_->grad, dout, in, weight_->value, acts.rstd);
  }
}

}  // namespace trident::models
