#include "models/transformer.h"

#include <string>

namespace trident::models {

Transformer::Transformer(const ModelSpec& spec, tp::TpGroup group) : spec_(spec) {
  // The first parameter each module registers: once its gradient is final, so is every gradient registered
  // after it, and those fill the flat buffer from its start up to the end of this parameter.
  std::vector<size_t> first_param;
  embed_ = std::make_unique<Embedding>(params_, spec);
  for (int l = 0; l < spec.n_layer; ++l) {
    first_param.push_back(params_.params().size());
    blocks_.push_back(
        std::make_unique<TransformerBlock>(params_, "blocks." + std::to_string(l), spec, group));
  }
  first_param.push_back(params_.params().size());
  head_ = std::make_unique<LmHead>(params_, spec, spec.tie_embeddings ? &embed_->wte() : nullptr);
  params_.finalize(spec.dtype);

  auto ready_after = [&](size_t index) {
    const Param& p = params_.params()[index];
    return p.flat_offset + p.value.numel();
  };
  for (int l = 0; l < spec.n_layer; ++l) ready_after_block_.push_back(ready_after(first_param[l]));
  ready_after_head_ = ready_after(first_param.back());
}

double Transformer::forward(ModelActs& acts, const Tensor& tokens, const Tensor& targets) {
  TRIDENT_CHECK(tokens.ndim() == 2 && tokens.dtype() == DType::i32, "tokens must be (B, T) i32, got {}",
                tokens.str());
  const int64_t B = tokens.dim(0), T = tokens.dim(1), C = spec_.d_model;
  acts.tokens = tokens;
  acts.targets = targets;
  acts.residual.resize(blocks_.size() + 1);
  acts.blocks.resize(blocks_.size());
  for (Tensor& r : acts.residual) ensure(r, {B, T, C}, spec_.dtype);

  embed_->forward(acts.residual[0], tokens, ws_);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    blocks_[l]->forward(acts.blocks[l], acts.residual[l + 1], acts.residual[l], ws_);
  }
  return head_->forward(acts.head, acts.residual.back(), targets);
}

void Transformer::backward(ModelActs& acts, double loss_scale, const GradsReady& grads_ready) {
  TRIDENT_CHECK(acts.targets.defined(), "backward needs a forward with targets");
  // The last residual is no longer needed once the head's backward has read it, so its gradient reuses
  // ws_.dmid; each block then turns d(x_out) into d(x_in) in place.
  Tensor& dres = ensure(ws_.dmid, acts.residual.back().shape(), spec_.dtype);
  head_->backward(dres, acts.residual.back(), acts.targets, acts.head, loss_scale, ws_);
  if (grads_ready) grads_ready(ready_after_head_);
  for (size_t l = blocks_.size(); l-- > 0;) {
    blocks_[l]->backward(dres, acts.residual[l], acts.blocks[l], ws_);
    if (grads_ready) grads_ready(ready_after_block_[l]);
  }
  embed_->backward(dres, acts.tokens, ws_);
  if (grads_ready) grads_ready(params_.numel());
}

}  // namespace trident::models
