#include "models/attention.h"

#include <cmath>

#include "core/ops/layout.h"
#include "core/ops/ops.h"
#include "core/runtime/spans.h"

namespace trident::models {

namespace {
// GPT-2's scaled init: residual projections get std / sqrt(2 * n_layer) (Radford et al. 2019).
double residual_std(const ModelSpec& s) {
  return s.init_std / std::sqrt(2.0 * s.n_layer);
}

// The fused qkv output blocks [q | k | v] of H*D, Hkv*D, Hkv*D rows; k and v replicated when Hkv < tp.
tp::OutputBlocks qkv_blocks(const ModelSpec& s, int tp) {
  const int64_t q = int64_t{s.n_head} * s.head_dim, kv = int64_t{s.n_kv_head} * s.head_dim;
  const int rep = CausalSelfAttention::kv_replicas(s, tp);
  return tp::OutputBlocks({q, kv, kv}, {1, rep, rep});
}
}  // namespace

int CausalSelfAttention::kv_replicas(const ModelSpec& spec, int tp) {
  return spec.n_kv_head < tp ? tp / spec.n_kv_head : 1;
}

CausalSelfAttention::CausalSelfAttention(ParamSet& params, const std::string& name, const ModelSpec& spec,
                                         tp::TpGroup group)
    : rope_(!spec.gpt2()),
      rope_theta_(spec.rope_theta),
      kv_replicas_(kv_replicas(spec, group.size)),
      tp_(group.size),
      heads_(spec.n_head / group.size),
      kv_heads_(int64_t{spec.n_kv_head} * kv_replicas_ / group.size),
      head_dim_(spec.head_dim),
      qkv_(params, name + ".qkv", spec.d_model, spec.qkv_dim(), spec.gpt2(), spec.init_std, group,
           qkv_blocks(spec, group.size), spec.sequence_parallel),
      proj_(params, name + ".proj", static_cast<int64_t>(spec.n_head) * spec.head_dim, spec.d_model,
            spec.gpt2(), residual_std(spec), group, spec.sequence_parallel) {
  if (spec.n_head % group.size != 0 || (spec.n_kv_head % group.size != 0 && group.size % spec.n_kv_head != 0))
    fail("{}: {} query and {} key/value heads do not split over {} tensor-parallel ranks", name, spec.n_head,
         spec.n_kv_head, group.size);
}

void CausalSelfAttention::forward(AttentionActs& acts, Tensor& y, const Tensor& x, int64_t T) const {
  const DType dt = x.dtype();
  // Under sequence parallelism x holds this rank's rows; the qkv projection gathers all N of them.
  const int64_t N = x.dim(0) * (qkv_.sequence_parallel() ? tp_ : 1), B = N / T;
  ensure(acts.qkv, {B, T, qkv_.local_out()}, dt, x.device());
  ensure(acts.q, {B, T, heads_, head_dim_}, dt, x.device());
  ensure(acts.k, {B, T, kv_heads_, head_dim_}, dt, x.device());
  ensure(acts.v, {B, T, kv_heads_, head_dim_}, dt, x.device());
  ensure(acts.out, {B, T, heads_, head_dim_}, dt, x.device());
  ensure(acts.lse, {B, heads_, T}, stat_dtype(dt), x.device());

  Tensor qkv2 = acts.qkv.view({N, qkv_.local_out()});
  {
    spans::Span span(spans::Kind::qkv, spans::Phase::forward,
                     2.0 * N * qkv_.in_features() * qkv_.local_out());
    qkv_.forward(qkv2, x);  // (N, (H + 2*Hkv)*D / tp)
  }
  {
    spans::Span span(spans::Kind::attention, spans::Phase::forward, core_flops(B, T));
    ops::split_last_dim(acts.qkv, {&acts.q, &acts.k, &acts.v});
    if (rope_) {
      ops::rope_forward(acts.q, acts.q, rope_theta_);
      ops::rope_forward(acts.k, acts.k, rope_theta_);
    }
    ops::attention_forward(acts.out, acts.lse, acts.q, acts.k, acts.v);
  }
  spans::Span span(spans::Kind::attn_proj, spans::Phase::forward, 2.0 * N * heads_ * head_dim_ * y.dim(1));
  proj_.forward(y, acts.out.view({N, heads_ * head_dim_}));
}

void CausalSelfAttention::forward_cached(AttentionActs& acts, Tensor& y, const Tensor& x, LayerKvCache& cache,
                                         int64_t pos0) const {
  TRIDENT_CHECK(tp_ == 1, "incremental decoding runs on an unsplit model, not over {} tensor-parallel ranks",
                tp_);
  const DType dt = x.dtype();
  const int64_t T = x.dim(0);
  TRIDENT_CHECK(pos0 == 0 || T == 1, "after the prefill, decoding runs one position at a time, not {} at {}",
                T, pos0);
  ensure(acts.qkv, {1, T, qkv_.local_out()}, dt, x.device());
  ensure(acts.q, {1, T, heads_, head_dim_}, dt, x.device());
  ensure(acts.k, {1, T, kv_heads_, head_dim_}, dt, x.device());
  ensure(acts.v, {1, T, kv_heads_, head_dim_}, dt, x.device());
  ensure(acts.out, {1, T, heads_, head_dim_}, dt, x.device());

  Tensor qkv2 = acts.qkv.view({T, qkv_.local_out()});
  qkv_.forward(qkv2, x);  // (T, (H + 2*Hkv)*D)
  ops::split_last_dim(acts.qkv, {&acts.q, &acts.k, &acts.v});
  if (rope_) {  // each row at its absolute position
    ops::rope_forward(acts.q, acts.q, rope_theta_, pos0);
    ops::rope_forward(acts.k, acts.k, rope_theta_, pos0);
  }
  cache.write(acts.k, acts.v, pos0);
  if (pos0 == 0) {
    ensure(acts.lse, {1, heads_, T}, stat_dtype(dt), x.device());
    ops::attention_forward(acts.out, acts.lse, acts.q, acts.k, acts.v);  // what forward() computes
  } else {
    cache.attend(acts.out, acts.q, pos0 + 1);
  }
  proj_.forward(y, acts.out.view({T, heads_ * head_dim_}));
}

void CausalSelfAttention::backward(Tensor& dx, const Tensor& dy, const Tensor& x, const AttentionActs& acts,
                                   Workspace& ws) const {
  const DType dt = x.dtype();
  const int64_t N = acts.q.dim(0) * acts.q.dim(1);
  ensure(ws.datt, acts.out.shape(), dt, x.device());
  ensure(ws.dq, acts.q.shape(), dt, x.device());
  ensure(ws.dk, acts.k.shape(), dt, x.device());
  ensure(ws.dv, acts.v.shape(), dt, x.device());
  ensure(ws.dqkv, acts.qkv.shape(), dt, x.device());

  Tensor datt2 = ws.datt.view({N, heads_ * head_dim_});
  {
    spans::Span span(spans::Kind::attn_proj, spans::Phase::backward,
                     4.0 * N * heads_ * head_dim_ * dy.dim(1));
    proj_.backward(datt2, dy, acts.out.view({N, heads_ * head_dim_}));
  }
  {
    spans::Span span(spans::Kind::attention, spans::Phase::backward,
                     2.0 * core_flops(acts.q.dim(0), acts.q.dim(1)));
    ops::attention_backward(ws.dq, ws.dk, ws.dv, ws.datt, acts.q, acts.k, acts.v, acts.out, acts.lse);
    if (rope_) {
      ops::rope_backward(ws.dq, ws.dq, rope_theta_);
      ops::rope_backward(ws.dk, ws.dk, rope_theta_);
    }
    ops::concat_last_dim(ws.dqkv, {&ws.dq, &ws.dk, &ws.dv});
  }
  spans::Span span(spans::Kind::qkv, spans::Phase::backward, 4.0 * N * qkv_.in_features() * qkv_.local_out());
  qkv_.backward(dx, ws.dqkv.view({N, qkv_.local_out()}), x);
  // The key bias adds q . b_k to every score of a query's row, and softmax ignores a constant shift, so its
  // exact gradient is zero. Computed, it is rounding noise, which Adam would scale up to lr-sized steps that
  // differ between layouts; keep it at its exact value.
  if (Param* bias = qkv_.bias()) bias->grad.flat(heads_ * head_dim_, {kv_heads_ * head_dim_}).zero();
}

}  // namespace trident::models
