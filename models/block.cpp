#include "models/block.h"

#include "core/ops/ops.h"

namespace trident::models {

TransformerBlock::TransformerBlock(ParamSet& params, const std::string& name, const ModelSpec& spec,
                                   tp::TpGroup group)
    : norm1_(params, name + ".attn_norm", spec.d_model, spec.gpt2(), spec.norm_eps, spec.sequence_parallel),
      attn_(params, name + ".attn", spec, group),
      norm2_(params, name + ".mlp_norm", spec.d_model, spec.gpt2(), spec.norm_eps, spec.sequence_parallel),
      mlp_(params, name + ".mlp", spec, group) {}

void TransformerBlock::forward(BlockActs& acts, Tensor& x_out, const Tensor& x_in, int64_t T,
                               Workspace& ws) const {
  ensure(ws.y, x_in.shape(), x_in.dtype(), x_in.device());
  ensure(acts.x_mid, x_in.shape(), x_in.dtype(), x_in.device());
  norm1_.forward(acts.norm1, x_in);
  attn_.forward(acts.attn, ws.y, acts.norm1.out, T);
  norm2_.forward_residual(acts.norm2, acts.x_mid, x_in, ws.y);  // x_mid = x_in + attn(x_in), normed
  mlp_.forward(acts.mlp, ws.y, acts.norm2.out);
  ops::add(x_out, acts.x_mid, ws.y);
}

void TransformerBlock::backward(Tensor& dres, const Tensor& x_in, const BlockActs& acts,
                                Workspace& ws) const {
  ensure(ws.dnorm, dres.shape(), dres.dtype(), dres.device());
  ensure(ws.dtmp, dres.shape(), dres.dtype(), dres.device());
  // MLP branch: dres holds d(x_out) = d(x_mid) through the residual, plus the branch's contribution.
  mlp_.backward(ws.dnorm, dres, acts.norm2.out, acts.mlp, ws);
  norm2_.backward(ws.dtmp, ws.dnorm, acts.x_mid, acts.norm2);
  ops::add_inplace(dres, ws.dtmp);
  // Attention branch, the same way: dres becomes d(x_in).
  attn_.backward(ws.dnorm, dres, acts.norm1.out, acts.attn, ws);
  norm1_.backward(ws.dtmp, ws.dnorm, x_in, acts.norm1);
  ops::add_inplace(dres, ws.dtmp);
}

}  // namespace trident::models
