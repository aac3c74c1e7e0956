#include "models/lm_head.h"

#include "core/ops/ops.h"

namespace trident::models {

LmHead::LmHead(ParamSet& params, const ModelSpec& spec, Param* tied_wte)
    : norm_(params, "final_norm", spec.d_model, spec.gpt2(), spec.norm_eps), vocab_(spec.vocab) {
  weight_ = tied_wte ? tied_wte
                     : &params.add("head.weight", {spec.padded_vocab, spec.d_model},
                                   {Init::normal, 0.0, spec.init_std});
}

double LmHead::forward(HeadActs& acts, const Tensor& x, const Tensor& targets) const {
  const int64_t N = x.numel() / x.dim(-1), C = x.dim(-1), Vp = weight_->value.dim(0);
  norm_.forward(acts.norm, x);
  ensure(acts.logits, {N, Vp}, x.dtype());
  ops::linear_forward(acts.logits, acts.norm.out.view({N, C}), weight_->value, Tensor{});
  if (!targets.defined()) return 0.0;
  ensure(acts.losses, {N}, x.dtype());
  ensure(acts.lse, {N}, x.dtype());
  ops::cross_entropy_forward(acts.losses, acts.lse, acts.logits, targets.view({N}), vocab_);
  const int32_t* t = targets.data<int32_t>();
  acts.n_targets = 0;
  double sum = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] < 0) continue;
    ++acts.n_targets;
    sum += acts.losses.item(i);
  }
  return acts.n_targets ? sum / static_cast<double>(acts.n_targets) : 0.0;
}

void LmHead::backward(Tensor& dx, const Tensor& x, const Tensor& targets, HeadActs& acts, double loss_scale,
                      Workspace& ws) const {
  const int64_t N = x.numel() / x.dim(-1), C = x.dim(-1);
  const double scale = acts.n_targets ? loss_scale / static_cast<double>(acts.n_targets) : 0.0;
  // dlogits overwrite the logits: the (N, Vp) buffer is the largest activation of a small model.
  ops::cross_entropy_backward(acts.logits, acts.logits, acts.lse, targets.view({N}), vocab_, scale);
  Tensor no_bias;
  // ws.dnorm keeps the (B, T, C) shape the blocks use, so the buffer is reused rather than reallocated.
  Tensor dnorm = ensure(ws.dnorm, x.shape(), x.dtype()).view({N, C});
  ops::linear_backward(dnorm, weight_->grad, no_bias, acts.logits, acts.norm.out.view({N, C}),
                       weight_->value);
  norm_.backward(dx, ws.dnorm, x, acts.norm);
}

}  // namespace trident::models
