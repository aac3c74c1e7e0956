#include "models/lm_head.h"

#include <optional>

#include "core/ops/ops.h"
#include "core/runtime/spans.h"
#include "tensor_parallel/vocab_parallel_cross_entropy.h"

namespace trident::models {

namespace {
tp::ColumnParallelLinear make_projection(ParamSet& params, const ModelSpec& spec, tp::TpGroup group,
                                         Param* tied_wte) {
  if (tied_wte) return tp::ColumnParallelLinear(*tied_wte, group, spec.sequence_parallel);
  return tp::ColumnParallelLinear(params, "head", spec.d_model, spec.padded_vocab, /*bias=*/false,
                                  spec.init_std, group, /*blocks=*/1, spec.sequence_parallel);
}
}  // namespace

LmHead::LmHead(ParamSet& params, const ModelSpec& spec, tp::TpGroup group, Param* tied_wte)
    : group_(group),
      norm_(params, "final_norm", spec.d_model, spec.gpt2(), spec.norm_eps, spec.sequence_parallel),
      proj_(make_projection(params, spec, group, tied_wte)),
      vocab_(spec.vocab) {}

double LmHead::forward(HeadActs& acts, const Tensor& x, const Tensor& targets) const {
  norm_.forward(acts.norm, x);
  const int64_t N =
      targets.defined() ? targets.numel() : x.dim(0) * (proj_.sequence_parallel() ? group_.size : 1);
  spans::Span span(spans::Kind::head_loss, spans::Phase::forward,
                   2.0 * N * proj_.in_features() * proj_.local_out());
  ensure(acts.logits, {N, proj_.local_out()}, x.dtype(), x.device());
  proj_.forward(acts.logits, acts.norm.out);  // (N, Vp/tp)
  if (!targets.defined()) return 0.0;
  ensure(acts.losses, {N}, stat_dtype(x.dtype()), x.device());
  ensure(acts.lse, {N}, stat_dtype(x.dtype()), x.device());
  if (group_.size == 1) {
    ops::cross_entropy_forward(acts.losses, acts.lse, acts.logits, targets.view({N}), vocab_);
  } else {
    tp::vocab_parallel_cross_entropy_forward(group_, acts.losses, acts.lse, acts.logits, targets.view({N}),
                                             vocab_);
  }
  // The mean over the rows with a target, on the host: one small copy of N losses per micro-batch from a GPU.
  const Tensor host_targets = targets.to(Device::cpu());
  const Tensor losses = acts.losses.to(Device::cpu());
  const int32_t* t = host_targets.data<int32_t>();
  acts.n_targets = 0;
  double sum = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] < 0) continue;
    ++acts.n_targets;
    sum += losses.item(i);
  }
  return acts.n_targets ? sum / static_cast<double>(acts.n_targets) : 0.0;
}

void LmHead::backward(Tensor& dx, const Tensor& x, const Tensor& targets, HeadActs& acts, double loss_scale,
                      Workspace& ws) const {
  const int64_t N = acts.logits.dim(0);
  std::optional<spans::Span> span(std::in_place, spans::Kind::head_loss, spans::Phase::backward,
                                  4.0 * N * proj_.in_features() * proj_.local_out());
  const double scale = acts.n_targets ? loss_scale / static_cast<double>(acts.n_targets) : 0.0;
  // dlogits overwrite the logits: the (N, Vp/tp) buffer is the largest activation of a small model.
  if (group_.size == 1) {
    ops::cross_entropy_backward(acts.logits, acts.logits, acts.lse, targets.view({N}), vocab_, scale);
  } else {
    tp::vocab_parallel_cross_entropy_backward(group_, acts.logits, acts.logits, acts.lse, targets.view({N}),
                                              vocab_, scale);
  }
  // ws.dnorm keeps the (R, C) shape the blocks use, so the buffer is reused rather than reallocated.
  Tensor& dnorm = ensure(ws.dnorm, x.shape(), x.dtype(), x.device());
  proj_.backward(dnorm, acts.logits, acts.norm.out);
  span.reset();  // the final norm is a norm
  norm_.backward(dx, dnorm, x, acts.norm);
}

}  // namespace trident::models
