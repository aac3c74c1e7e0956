#pragma once
// The decoder-only transformer behind both GPT-2 and LLaMA: embedding, L pre-norm blocks, final norm + head.
// GPT-2: learned positions, LayerNorm, GELU MLP, biases, tied head. LLaMA: RoPE, RMSNorm, SwiGLU, GQA, no
// biases, untied head. Parameters are registered in execution order, so the flat buffers run in reverse.
#include <memory>
#include <vector>

#include "core/tensor/param_set.h"
#include "models/block.h"
#include "models/embedding.h"
#include "models/lm_head.h"

namespace trident::models {

class Transformer {
 public:
  explicit Transformer(const ModelSpec& spec, tp::TpGroup group = {});

  const ModelSpec& spec() const { return spec_; }
  ParamSet& params() { return params_; }
  const ParamSet& params() const { return params_; }

  // tokens, targets (B, T) i32. Returns the mean loss over the targets (0 when targets is undefined, for
  // inference; the logits are then in acts.head.logits).
  double forward(ModelActs& acts, const Tensor& tokens, const Tensor& targets);
  // Accumulates parameter gradients of loss * loss_scale. Consumes acts (the logits become dlogits).
  void backward(ModelActs& acts, double loss_scale);

 private:
  ModelSpec spec_;
  ParamSet params_;
  std::unique_ptr<Embedding> embed_;
  std::vector<std::unique_ptr<TransformerBlock>> blocks_;
  std::unique_ptr<LmHead> head_;
  Workspace ws_;
};

}  // namespace trident::models
