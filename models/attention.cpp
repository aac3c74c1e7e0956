#include "models/attention.h"

#include <cmath>

#include "core/ops/layout.h"
#include "core/ops/ops.h"

namespace trident::models {

namespace {
// GPT-2's scaled init: residual projections get std / sqrt(2 * n_layer) (Radford et al. 2019).
double residual_std(const ModelSpec& s) {
  return s.init_std / std::sqrt(2.0 * s.n_layer);
}
}  // namespace

CausalSelfAttention::CausalSelfAttention(ParamSet& params, const std::string& name, const ModelSpec& spec,
                                         tp::TpGroup group)
    : rope_(!spec.gpt2()),
      rope_theta_(spec.rope_theta),
      heads_(spec.n_head / group.size),
      kv_heads_(spec.n_kv_head / group.size),
      head_dim_(spec.head_dim),
      qkv_(params, name + ".qkv", spec.d_model, spec.qkv_dim(), spec.gpt2(), spec.init_std, group,
           /*segments=*/1),
      proj_(params, name + ".proj", static_cast<int64_t>(spec.n_head) * spec.head_dim, spec.d_model,
            spec.gpt2(), residual_std(spec), group) {}

void CausalSelfAttention::forward(AttentionActs& acts, Tensor& y, const Tensor& x, Workspace& ws) const {
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2);
  const DType dt = x.dtype();
  ensure(acts.qkv, {B, T, qkv_.local_out()}, dt);
  ensure(acts.q, {B, T, heads_, head_dim_}, dt);
  ensure(acts.k, {B, T, kv_heads_, head_dim_}, dt);
  ensure(acts.v, {B, T, kv_heads_, head_dim_}, dt);
  ensure(acts.out, {B, T, heads_, head_dim_}, dt);
  ensure(acts.lse, {B, heads_, T}, dt);

  Tensor x2 = x.view({B * T, C});
  Tensor qkv2 = acts.qkv.view({B * T, qkv_.local_out()});
  qkv_.forward(qkv2, x2);
  ops::split_last_dim(acts.qkv, {&acts.q, &acts.k, &acts.v});
  if (rope_) {
    ops::rope_forward(acts.q, acts.q, rope_theta_);
    ops::rope_forward(acts.k, acts.k, rope_theta_);
  }
  ops::attention_forward(acts.out, acts.lse, acts.q, acts.k, acts.v);
  Tensor y2 = y.view({B * T, C});
  proj_.forward(y2, acts.out.view({B * T, heads_ * head_dim_}));
}

void CausalSelfAttention::backward(Tensor& dx, const Tensor& dy, const Tensor& x, const AttentionActs& acts,
                                   Workspace& ws) const {
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2);
  const DType dt = x.dtype();
  ensure(ws.datt, acts.out.shape(), dt);
  ensure(ws.dq, acts.q.shape(), dt);
  ensure(ws.dk, acts.k.shape(), dt);
  ensure(ws.dv, acts.v.shape(), dt);
  ensure(ws.dqkv, acts.qkv.shape(), dt);

  Tensor datt2 = ws.datt.view({B * T, heads_ * head_dim_});
  proj_.backward(datt2, dy.view({B * T, C}), acts.out.view({B * T, heads_ * head_dim_}));
  ops::attention_backward(ws.dq, ws.dk, ws.dv, ws.datt, acts.q, acts.k, acts.v, acts.out, acts.lse);
  if (rope_) {
    ops::rope_backward(ws.dq, ws.dq, rope_theta_);
    ops::rope_backward(ws.dk, ws.dk, rope_theta_);
  }
  ops::concat_last_dim(ws.dqkv, {&ws.dq, &ws.dk, &ws.dv});
  Tensor dx2 = dx.view({B * T, C});
  qkv_.backward(dx2, ws.dqkv.view({B * T, qkv_.local_out()}), x.view({B * T, C}));
  // The key bias adds q . b_k to every score of a query's row, and softmax ignores a constant shift, so its
  // exact gradient is zero. Computed, it is rounding noise, which Adam would scale up to lr-sized steps that
  // differ between layouts; keep it at its exact value.
  if (Param* bias = qkv_.bias()) bias->grad.flat(heads_ * head_dim_, {kv_heads_ * head_dim_}).zero();
}

}  // namespace trident::models
