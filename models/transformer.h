#pragma once
// The decoder-only transformer behind both GPT-2 and LLaMA: embedding, L pre-norm blocks, final norm + head.
// GPT-2: learned positions, LayerNorm, GELU MLP, biases, tied head. LLaMA: RoPE, RMSNorm, SwiGLU, GQA, no
// biases, untied head. Parameters are registered in execution order, so the flat buffers run in reverse.
#include <functional>
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
  // Called during backward with n: the first n elements of the flat gradient buffer are final for this
  // backward (the buffer runs in reverse execution order), so their data-parallel reduction can start.
  using GradsReady = std::function<void(int64_t n)>;
  // Accumulates parameter gradients of loss * loss_scale. Consumes acts (the logits become dlogits).
  void backward(ModelActs& acts, double loss_scale, const GradsReady& grads_ready = {});

 private:
  ModelSpec spec_;
  ParamSet params_;
  std::unique_ptr<Embedding> embed_;
  std::vector<std::unique_ptr<TransformerBlock>> blocks_;
  std::unique_ptr<LmHead> head_;
  Workspace ws_;
  // Flat-buffer prefix that is final after the head's backward, and after block l's backward.
  int64_t ready_after_head_ = 0;
  std::vector<int64_t> ready_after_block_;
};

}  // namespace trident::models
