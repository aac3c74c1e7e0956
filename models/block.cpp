#include "models/block.h"

#include <cmath>

#include "core/ops/ops.h"
#include "core/runtime/spans.h"

namespace trident::models {

namespace {
std::string block_name(int layer) {
  return "blocks." + std::to_string(layer);
}
}  // namespace

TransformerBlock::TransformerBlock(ParamSet& params, ParamSet& expert_params, int layer,
                                   const ModelSpec& spec, tp::TpGroup group, moe::ExpertGroup ep)
    : norm1_(params, block_name(layer) + ".attn_norm", spec.d_model, spec.gpt2(), spec.norm_eps,
             spec.sequence_parallel),
      attn_(params, block_name(layer) + ".attn", spec, group),
      norm2_(params, block_name(layer) + ".mlp_norm", spec.d_model, spec.gpt2(), spec.norm_eps,
             spec.sequence_parallel) {
  const std::string name = block_name(layer);
  if (!spec.moe.is_moe_block(layer)) {
    mlp_ = std::make_unique<Mlp>(params, name + ".mlp", spec, group);
    return;
  }
  moe_ = std::make_unique<moe::MoeLayer>(
      params, expert_params, name + ".moe", spec.moe, spec.d_model, spec.gpt2(), spec.init_std,
      spec.init_std / std::sqrt(2.0 * spec.n_layer), group, spec.sequence_parallel, ep);
  if (spec.moe.shared_experts > 0) {
    ModelSpec shared = spec;
    shared.d_ff = spec.moe.shared_experts * spec.moe.d_ff_expert;
    mlp_ = std::make_unique<Mlp>(params, name + ".moe.shared", shared, group);
  }
}

void TransformerBlock::forward(BlockActs& acts, Tensor& x_out, const Tensor& x_in, int64_t T, Workspace& ws,
                               LayerKvCache* cache, int64_t pos0) const {
  ensure(ws.y, x_in.shape(), x_in.dtype(), x_in.device());
  ensure(acts.x_mid, x_in.shape(), x_in.dtype(), x_in.device());
  norm1_.forward(acts.norm1, x_in);
  if (cache) {
    attn_.forward_cached(acts.attn, ws.y, acts.norm1.out, *cache, pos0);
  } else {
    attn_.forward(acts.attn, ws.y, acts.norm1.out, T);
  }
  norm2_.forward_residual(acts.norm2, acts.x_mid, x_in, ws.y);  // x_mid = x_in + attn(x_in), normed
  if (moe_) {
    {
      spans::Span span(spans::Kind::moe,
                       spans::Phase::forward);  // FLOPs: the router's and experts' own spans
      moe_->forward(acts.moe, ws.y, acts.norm2.out);
    }
    if (mlp_) {
      ensure(ws.y2, x_in.shape(), x_in.dtype(), x_in.device());
      mlp_->forward(acts.mlp, ws.y2, acts.norm2.out);
      ops::add_inplace(ws.y, ws.y2);
    }
  } else {
    mlp_->forward(acts.mlp, ws.y, acts.norm2.out);
  }
  spans::Span span(spans::Kind::residual, spans::Phase::forward, 0, 3.0 * x_out.nbytes());
  ops::add(x_out, acts.x_mid, ws.y);
}

void TransformerBlock::backward(Tensor& dres, const Tensor& x_in, const BlockActs& acts, Workspace& ws,
                                double loss_scale) const {
  ensure(ws.dnorm, dres.shape(), dres.dtype(), dres.device());
  ensure(ws.dtmp, dres.shape(), dres.dtype(), dres.device());
  // MLP branch: dres holds d(x_out) = d(x_mid) through the residual, plus the branch's contribution.
  if (moe_) {
    {
      spans::Span span(spans::Kind::moe, spans::Phase::backward);
      moe_->backward(ws.dnorm, dres, acts.moe, loss_scale);
    }
    if (mlp_) {
      ensure(ws.dnorm2, dres.shape(), dres.dtype(), dres.device());
      mlp_->backward(ws.dnorm2, dres, acts.norm2.out, acts.mlp, ws);
      ops::add_inplace(ws.dnorm, ws.dnorm2);
    }
  } else {
    mlp_->backward(ws.dnorm, dres, acts.norm2.out, acts.mlp, ws);
  }
  norm2_.backward(ws.dtmp, ws.dnorm, acts.x_mid, acts.norm2);
  {
    spans::Span span(spans::Kind::residual, spans::Phase::backward, 0, 3.0 * dres.nbytes());
    ops::add_inplace(dres, ws.dtmp);
  }
  // Attention branch, the same way: dres becomes d(x_in).
  attn_.backward(ws.dnorm, dres, acts.norm1.out, acts.attn, ws);
  norm1_.backward(ws.dtmp, ws.dnorm, x_in, acts.norm1);
  spans::Span span(spans::Kind::residual, spans::Phase::backward, 0, 3.0 * dres.nbytes());
  ops::add_inplace(dres, ws.dtmp);
}

}  // namespace trident::models
