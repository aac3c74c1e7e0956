#pragma once
// A pre-norm transformer block: x_mid = x + attn(norm1(x)); x_out = x_mid + mlp(norm2(x_mid)). In an MoE
// block (model.moe, moe/) the MLP is the routed experts, plus the shared experts' MLP when there are any:
// x_out = x_mid + moe(norm2(x_mid)) + shared(norm2(x_mid)).
#include <memory>
#include <string>

#include "models/attention.h"
#include "models/mlp.h"
#include "models/norm.h"
#include "moe/moe_layer.h"

namespace trident::models {

class TransformerBlock {
 public:
  // layer: the block's index in the whole model (whether it is an MoE block). An MoE block under expert
  // parallelism (ep.size > 1) registers its experts in expert_params.
  TransformerBlock(ParamSet& params, ParamSet& expert_params, int layer, const ModelSpec& spec,
                   tp::TpGroup group, moe::ExpertGroup ep = {});

  // x_in, x_out (R, C) for sequences of T tokens; x_in must stay alive until backward (it is the previous
  // block's output). With a cache (incremental decoding, Transformer::forward_cached): the T rows are one
  // sequence's positions [pos0, pos0 + T), and attention goes through the cache.
  void forward(BlockActs& acts, Tensor& x_out, const Tensor& x_in, int64_t T, Workspace& ws,
               LayerKvCache* cache = nullptr, int64_t pos0 = 0) const;
  // dres: in, the gradient w.r.t. x_out; out, the gradient w.r.t. x_in (updated in place). loss_scale: the
  // objective's scale in this backward, for an MoE block's auxiliary losses.
  void backward(Tensor& dres, const Tensor& x_in, const BlockActs& acts, Workspace& ws,
                double loss_scale) const;

  const moe::MoeLayer* moe() const { return moe_.get(); }

 private:
  Norm norm1_;
  CausalSelfAttention attn_;
  Norm norm2_;
  std::unique_ptr<Mlp> mlp_;            // the dense MLP, or an MoE block's shared experts (or none)
  std::unique_ptr<moe::MoeLayer> moe_;  // an MoE block's routed experts
};

}  // namespace trident::models
