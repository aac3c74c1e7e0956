#include "models/transformer.h"

#include <cmath>
#include <string>

#include "tensor_parallel/sharded_params.h"

namespace trident::models {

Transformer::Transformer(const ModelSpec& spec, tp::TpGroup group, ChunkSpec chunk, moe::ExpertGroup ep)
    : spec_(spec), group_(group), chunk_(chunk), ep_(ep) {
  group.check("transformer");
  if (spec.sequence_parallel && group.size == 1) spec_.sequence_parallel = false;  // nothing to shard
  if (chunk_.num_layers < 0) chunk_.num_layers = spec_.n_layer - chunk_.first_layer;
  TRIDENT_CHECK(chunk_.first_layer >= 0 && chunk_.num_layers >= 0 &&
                    chunk_.first_layer + chunk_.num_layers <= spec_.n_layer,
                "layers [{}, {}) of a {}-layer model", chunk_.first_layer,
                chunk_.first_layer + chunk_.num_layers, spec_.n_layer);
  // The first parameter each module registers: once its gradient is final, so is every gradient registered
  // after it, and those fill the flat buffer from its start up to the end of this parameter.
  std::vector<size_t> first_param;
  Param* wte = nullptr;
  if (chunk_.first) {
    embed_ = std::make_unique<Embedding>(params_, spec_, group);
    wte = &embed_->wte();
    // The head on another stage holds a copy whose gradient is summed with this one; on this stage, the head
    // writes this one's gradient too.
    if (spec_.tie_embeddings && !chunk_.last) wte->tied = true;
    if (spec_.tie_embeddings && chunk_.last) wte->shared = true;
  }
  for (int l = chunk_.first_layer; l < chunk_.first_layer + chunk_.num_layers; ++l) {
    first_param.push_back(params_.params().size());
    const size_t experts_before = expert_params_.params().size();
    blocks_.push_back(std::make_unique<TransformerBlock>(params_, expert_params_, l, spec_, group, ep));
    if (expert_params_.params().size() > experts_before)
      expert_units_.push_back({experts_before, expert_params_.params().size()});
  }
  first_param.push_back(params_.params().size());
  if (chunk_.last) {
    if (spec_.tie_embeddings && !chunk_.first) {
      // The last stage's copy of the tied embedding: registered as VocabParallelEmbedding registers wte.
      wte = &params_.add("embed.wte", {spec_.padded_vocab, spec_.d_model},
                         {Init::normal, 0.0, spec_.init_std}, ShardSpec{0, group.size, group.rank});
      wte->tied = wte->duplicate = true;
    }
    head_ = std::make_unique<LmHead>(params_, spec_, group, spec_.tie_embeddings ? wte : nullptr);
  }
  params_.finalize(spec_.dtype, spec_.device);
  if (!expert_params_.params().empty()) expert_params_.finalize(spec_.dtype, spec_.device);
  if (spec_.moe.enabled()) moe_stats_ = moe::MoeStats(spec_.n_layer, spec_.moe.num_experts);
  // Units, in registration order: the embedding, each block, the head (empty ones left out).
  size_t begin = 0;
  for (size_t end : first_param) {
    if (end > begin) units_.push_back({begin, end});
    begin = end;
  }
  if (params_.params().size() > begin) units_.push_back({begin, params_.params().size()});
  first_param_ = std::move(first_param);
  // Each block is one unit (after the embedding's, on the first stage); an MoE block's experts another.
  expert_unit_of_.assign(units_.size(), -1);
  const size_t first_block = chunk_.first ? 1 : 0;
  for (size_t l = 0, e = 0; l < blocks_.size(); ++l)
    if (blocks_[l]->moe() && !expert_units_.empty())
      expert_unit_of_.at(first_block + l) = static_cast<int>(e++);
}

int64_t Transformer::ready_after(size_t index) const {
  if (index >= params_.params().size()) return 0;  // nothing registered after this point
  const Param& p = params_.params()[index];
  return p.flat_offset + p.local_numel();
}

int64_t Transformer::rows(int64_t n_tokens) const {
  const int64_t shards = spec_.sequence_parallel ? group_.size : 1;
  if (n_tokens % shards != 0) {
    fail(
        "sequence parallelism splits the {} token rows of a micro-batch over {} ranks; they do not divide "
        "evenly",
        n_tokens, shards);
  }
  return n_tokens / shards;
}

Tensor Transformer::boundary_buffer(int64_t n_tokens) const {
  return Tensor::empty({rows(n_tokens), spec_.d_model}, spec_.dtype, spec_.device);
}

double Transformer::forward(ModelActs& acts, const Tensor& tokens, const Tensor& targets, const Tensor& input,
                            StepHooks* hooks, int chunk) {
  TRIDENT_CHECK(tokens.ndim() == 2 && tokens.dtype() == DType::i32, "tokens must be (B, T) i32, got {}",
                tokens.str());
  const int64_t B = tokens.dim(0), T = tokens.dim(1), C = spec_.d_model;
  const int64_t R = rows(B * T);
  // units_: [embedding if first] blocks... [head if last].
  const size_t first_block = chunk_.first ? 1 : 0;
  const auto unit = [&](size_t u, bool begin) {
    if (hooks) begin ? hooks->unit_forward_begin(chunk, u) : hooks->unit_forward_end(chunk, u);
  };
  // The data loader's batches are host tensors: one copy each to the model's device (none on the CPU).
  acts.tokens = tokens.to(spec_.device);
  acts.targets = targets.to(spec_.device);
  acts.residual.resize(blocks_.size() + 1);
  // Recomputation keeps no block's activations: they go to one scratch set that backward fills again, and
  // acts.blocks keeps only an MoE block's loss terms (no tensors).
  acts.blocks.resize(blocks_.size());
  for (Tensor& r : acts.residual) ensure(r, {R, C}, spec_.dtype, spec_.device);

  if (chunk_.first) {
    unit(0, true);
    embed_->forward(acts.residual[0], acts.tokens, ws_);
    unit(0, false);
  } else {
    TRIDENT_CHECK(input.defined() && input.numel() == R * C, "stage input {} for {} rows of {}",
                  input.defined() ? input.str() : "(none)", R, C);
    acts.residual[0].copy_from(input);
  }
  for (size_t l = 0; l < blocks_.size(); ++l) {
    unit(first_block + l, true);
    BlockActs& block = block_acts(acts, l);
    blocks_[l]->forward(block, acts.residual[l + 1], acts.residual[l], T, ws_);
    if (blocks_[l]->moe()) {
      moe_stats_.add(chunk_.first_layer + static_cast<int>(l), block.moe);
      if (spec_.recompute) {
        acts.blocks[l].moe.aux_loss = block.moe.aux_loss;
        acts.blocks[l].moe.z_loss = block.moe.z_loss;
      }
    }
    unit(first_block + l, false);
  }
  if (!chunk_.last) return 0.0;
  const Tensor flat_targets = targets.defined() ? acts.targets.view({B * T}) : Tensor{};
  unit(units_.size() - 1, true);
  const double loss = head_->forward(acts.head, acts.residual.back(), flat_targets);
  unit(units_.size() - 1, false);
  return loss;
}

bool Transformer::supports_kv_cache() const {
  const bool whole =
      chunk_.first && chunk_.last && chunk_.first_layer == 0 && chunk_.num_layers == spec_.n_layer;
  const bool dropless = !spec_.moe.enabled() || spec_.moe.capacity_factor <= 0.0;
  // On the CPU only until a GPU run has checked it against forward() (its ops all dispatch to CUDA too).
  return spec_.device.is_cpu() && group_.size == 1 && ep_.size == 1 && whole && dropless;
}

void Transformer::forward_cached(ModelActs& acts, const Tensor& tokens, KvCache& cache) {
  if (!supports_kv_cache())
    fail("the KV cache needs the whole model on one CPU rank (tp, pp and ep 1) and dropless MoE routing");
  TRIDENT_CHECK(tokens.ndim() == 2 && tokens.dim(0) == 1 && tokens.dtype() == DType::i32,
                "tokens must be (1, T) i32 for incremental decoding, got {}", tokens.str());
  const int64_t T = tokens.dim(1), C = spec_.d_model, pos0 = cache.length();
  TRIDENT_CHECK(pos0 + T <= cache.capacity(), "positions [{}, {}) past the KV cache's {}", pos0, pos0 + T,
                cache.capacity());
  acts.tokens = tokens.to(spec_.device);
  acts.targets = Tensor{};
  acts.residual.resize(blocks_.size() + 1);
  acts.blocks.resize(blocks_.size());
  for (Tensor& r : acts.residual) ensure(r, {T, C}, spec_.dtype, spec_.device);
  embed_->forward(acts.residual[0], acts.tokens, ws_, pos0);
  for (size_t l = 0; l < blocks_.size(); ++l)
    blocks_[l]->forward(acts.blocks[l], acts.residual[l + 1], acts.residual[l], T, ws_,
                        &cache.layer(static_cast<int>(l)), pos0);
  head_->forward(acts.head, acts.residual.back(), Tensor{});
  cache.advance(T);
}

std::vector<size_t> Transformer::units_read(size_t unit) const {
  TRIDENT_CHECK(unit < units_.size(), "unit {} of {}", unit, units_.size());
  // The head of a tied model on the same stage as the embedding reads wte, the embedding unit's.
  if (chunk_.last && chunk_.first && spec_.tie_embeddings && unit == units_.size() - 1) return {unit, 0};
  return {unit};
}

void Transformer::backward(ModelActs& acts, double loss_scale, const GradsReady& grads_ready,
                           const Tensor& dout, StepHooks* hooks, int chunk) {
  const size_t first_block = chunk_.first ? 1 : 0;
  const auto unit = [&](size_t u, bool begin) {
    if (hooks) begin ? hooks->unit_backward_begin(chunk, u) : hooks->unit_backward_end(chunk, u);
  };
  TRIDENT_CHECK(acts.targets.defined(), "backward needs a forward with targets");
  // The last residual is no longer needed once the head's backward has read it, so its gradient reuses
  // ws_.dmid; each block then turns d(x_out) into d(x_in) in place.
  Tensor& dres = ensure(ws_.dmid, acts.residual.back().shape(), spec_.dtype, spec_.device);
  if (chunk_.last) {
    unit(units_.size() - 1, true);
    head_->backward(dres, acts.residual.back(), acts.targets.view({acts.targets.numel()}), acts.head,
                    loss_scale, ws_);
  } else {
    TRIDENT_CHECK(dout.defined() && dout.numel() == dres.numel(), "stage output gradient {} for {}",
                  dout.defined() ? dout.str() : "(none)", dres.str());
    dres.copy_from(dout);
  }
  // Offsets are read now, not at construction: the gradient path may have laid the buffers out again.
  if (grads_ready) grads_ready(ready_after(first_param_.back()));
  if (chunk_.last) unit(units_.size() - 1, false);
  for (size_t l = blocks_.size(); l-- > 0;) {
    unit(first_block + l, true);
    BlockActs& block = block_acts(acts, l);
    if (spec_.recompute) {
      // The block's forward again, from its kept input and with the same ops: the same activations (and MoE
      // routing) to the bit. Its collectives (tp, sp, ep) run again too, on every rank of the group alike.
      ensure(recompute_out_, acts.residual[l].shape(), spec_.dtype, spec_.device);
      blocks_[l]->forward(block, recompute_out_, acts.residual[l], acts.tokens.dim(1), ws_);
    }
    blocks_[l]->backward(dres, acts.residual[l], block, ws_, loss_scale);
    if (grads_ready) grads_ready(ready_after(first_param_[l]));
    unit(first_block + l, false);
  }
  if (chunk_.first) {
    unit(0, true);
    embed_->backward(dres, acts.tokens, ws_);
  }
  if (grads_ready) grads_ready(params_.flat_numel());
  if (chunk_.first) unit(0, false);
}

Transformer::MoeLosses Transformer::moe_losses(const ModelActs& acts) const {
  MoeLosses out;
  for (size_t l = 0; l < blocks_.size() && l < acts.blocks.size(); ++l) {
    if (!blocks_[l]->moe()) continue;
    out.aux += acts.blocks[l].moe.aux_loss;
    out.z += acts.blocks[l].moe.z_loss;
  }
  return out;
}

moe::MoeTimes Transformer::moe_times() const {
  moe::MoeTimes out;
  for (const auto& block : blocks_)
    if (block->moe()) out += block->moe()->times();
  return out;
}

Tensor Transformer::logits_row(const ModelActs& acts, int64_t row) const {
  const Tensor local = acts.head.logits.narrow0(row, row + 1);  // (1, Vp/tp)
  if (group_.size == 1) return local.view({local.numel()});
  Tensor all = Tensor::empty({local.numel() * group_.size}, local.dtype());
  group_.comm->all_gather(all, local.view({local.numel()}));  // rank r's columns are block r
  return all;
}

std::map<std::string, Tensor> Transformer::gather_params(const ParamSet* over,
                                                         const ParamSet* experts_over) const {
  std::map<std::string, Tensor> out = tp::gather_params(over ? *over : params_, group_);
  if (expert_params_.finalized())
    out.merge(moe::gather_experts(experts_over ? *experts_over : expert_params_, ep_));
  return out;
}

}  // namespace trident::models
