#pragma once
// The decoder-only transformer behind both GPT-2 and LLaMA: embedding, L pre-norm blocks, final norm + head.
// GPT-2: learned positions, LayerNorm, GELU MLP, biases, tied head. LLaMA: RoPE, RMSNorm, SwiGLU, GQA, no
// biases, untied head. Parameters are registered in execution order, so the flat buffers run in reverse.
//
// Over a tensor-parallel group every layer is split Megatron style (tensor_parallel/); each rank holds its
// shard of every parameter under the parameter's global name, shape and ShardSpec. Where a rank's gradient is
// only part of the whole (Param::partial, Param::tied), the parameter says so; the model never reduces a
// gradient itself (zero/partial_grads.h does, once per step).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor/param_set.h"
#include "models/block.h"
#include "models/embedding.h"
#include "models/kv_cache.h"
#include "models/lm_head.h"
#include "models/step_hooks.h"
#include "moe/moe_stats.h"

namespace trident::models {

// The part of the model a pipeline stage (one model chunk) holds: layers [first_layer, first_layer +
// num_layers), the embedding when `first`, the final norm, head and loss when `last`. The default is the
// whole model. A last stage of a tied model that is not also the first holds its own copy of embed.wte (same
// name, so the same initial values), kept equal to the first stage's by summing their gradients every step:
// both copies are declared Param::tied, and the last stage's Param::duplicate.
struct ChunkSpec {
  int first_layer = 0;
  int num_layers = -1;  // -1: all of model.n_layer
  bool first = true;
  bool last = true;
};

class Transformer {
 public:
  // Every rank of `group` must construct the model together (it may split the group's communicator). ep: the
  // expert-parallel group of an MoE model; with more than one rank, each holds its share of every MoE block's
  // experts in expert_params().
  explicit Transformer(const ModelSpec& spec, tp::TpGroup group = {}, ChunkSpec chunk = {},
                       moe::ExpertGroup ep = {});

  const ModelSpec& spec() const { return spec_; }
  const ChunkSpec& chunk() const { return chunk_; }
  const tp::TpGroup& tp_group() const { return group_; }
  ParamSet& params() { return params_; }
  const ParamSet& params() const { return params_; }
  // Expert parallelism: this rank's experts (each parameter its slice along dim 0 of the (E, ...) whole),
  // whose gradients reduce over the expert-data-parallel group rather than dp. Empty (unfinalized) without.
  ParamSet& expert_params() { return expert_params_; }
  const ParamSet& expert_params() const { return expert_params_; }
  // The experts' units, one per MoE block, as [first, last) indices into expert_params(), and for each unit
  // of units() the expert unit it computes (-1: none).
  const std::vector<std::pair<size_t, size_t>>& expert_units() const { return expert_units_; }
  const std::vector<int>& expert_unit_of() const { return expert_unit_of_; }

  // tokens, targets (B, T) i32. Returns the mean loss over the targets (0 when targets is undefined, for
  // inference; the logits are then in acts.head.logits, this rank's vocabulary columns). A chunk that is not
  // the first takes its input (R, C) from the previous stage; one that is not the last returns 0 and leaves
  // its output in acts.residual.back().
  double forward(ModelActs& acts, const Tensor& tokens, const Tensor& targets, const Tensor& input = {},
                 StepHooks* hooks = nullptr, int chunk = 0);
  // Incremental decoding of one sequence with a KV cache (inference on a whole, unsplit model): tokens (1, T)
  // are the positions [cache.length(), cache.length() + T), the context from an empty cache (a prefill) and
  // then one token at a time. Their logits (T, Vp) are left in acts.head.logits for logits_row; the cache
  // holds their keys and values afterwards. Gives what forward() gives for the last row of the whole context,
  // up to rounding; fails where supports_kv_cache() is false.
  void forward_cached(ModelActs& acts, const Tensor& tokens, KvCache& cache);
  // Whether forward_cached runs on this model: the whole model on one CPU rank (tp 1, ep 1, one pipeline
  // chunk), and any MoE blocks dropless (model.moe.capacity_factor 0; with a capacity, whether an expert
  // drops a token depends on the other tokens of the forward, so one token at a time would route
  // differently).
  bool supports_kv_cache() const;
  // R: the rows of a micro-batch of n_tokens (= B*T) this rank holds between the tensor-parallel regions
  // (n_tokens, or n_tokens / tp under sequence parallelism; an uneven split fails).
  int64_t rows(int64_t n_tokens) const;
  // An empty (R, C) activation in the model's dtype: what crosses a pipeline stage boundary.
  Tensor boundary_buffer(int64_t n_tokens) const;
  // Called during backward with n: the first n elements of the flat gradient buffer are final for this
  // backward (the buffer runs in reverse execution order), so their data-parallel reduction can start.
  using GradsReady = std::function<void(int64_t n)>;
  // Accumulates parameter gradients of loss * loss_scale. Consumes acts (the logits become dlogits). A chunk
  // that is not the last starts from dout (R, C), the gradient of its output; one that is not the first
  // leaves the gradient of its input in input_grad().
  // hooks (with this chunk's index): told before and after each unit's backward (and forward, in forward()).
  void backward(ModelActs& acts, double loss_scale, const GradsReady& grads_ready = {},
                const Tensor& dout = {}, StepHooks* hooks = nullptr, int chunk = 0);
  // The units the model computes in one go, as [first, last) parameter indices in registration order: the
  // embedding, each block, the final norm + head (those this chunk holds). ZeRO buckets and stage-3 gathers
  // follow them.
  const std::vector<std::pair<size_t, size_t>>& units() const { return units_; }
  // The units whose parameters unit `unit`'s forward and backward read: itself, and for the head of a tied
  // model on the embedding's stage, the embedding too (wte).
  std::vector<size_t> units_read(size_t unit) const;
  // The MoE blocks' auxiliary losses in the forward that filled `acts` (coefficient-weighted, summed over
  // this chunk's MoE blocks): what they add to the micro-batch's objective beyond the returned cross-entropy.
  struct MoeLosses {
    double aux = 0, z = 0;
  };
  MoeLosses moe_losses(const ModelActs& acts) const;
  // Routing statistics of every forward since the last clear() (training steps clear it first); empty for a
  // dense model.
  moe::MoeStats& moe_stats() { return moe_stats_; }
  // Where this chunk's MoE layers spent their time so far (forward and backward).
  moe::MoeTimes moe_times() const;
  // (R, C) after backward on a chunk that is not the first; overwritten by the next backward.
  const Tensor& input_grad() const { return ws_.dmid; }

  // Row `row` of the forward's logits over the whole padded vocabulary (Vp), gathered over tp.
  Tensor logits_row(const ModelActs& acts, int64_t row) const;
  // Every parameter at its global shape, gathered over tp (a collective: every rank of the group calls it)
  // and the experts over ep; without the last stage's copy of a tied embedding. `over`, `experts_over`:
  // ParamSets of this chunk's layouts to gather instead (fp32 master weights); null: the model's own
  // parameters.
  std::map<std::string, Tensor> gather_params(const ParamSet* over = nullptr,
                                              const ParamSet* experts_over = nullptr) const;

 private:
  ModelSpec spec_;
  tp::TpGroup group_;
  ChunkSpec chunk_;
  ParamSet params_;
  ParamSet expert_params_;
  moe::ExpertGroup ep_;
  std::unique_ptr<Embedding> embed_;
  std::vector<std::unique_ptr<TransformerBlock>> blocks_;
  std::unique_ptr<LmHead> head_;
  Workspace ws_;
  // train.recompute full: the one block's activations forward writes and backward regenerates (ModelActs then
  // holds no per-block activations), and the recomputed block output nobody reads.
  BlockActs recompute_acts_;
  Tensor recompute_out_;
  // Where block l's activations live: acts.blocks[l], or the scratch set under recomputation.
  BlockActs& block_acts(ModelActs& acts, size_t l) {
    return spec_.recompute ? recompute_acts_ : acts.blocks[l];
  }
  moe::MoeStats moe_stats_;
  // The first parameter each block registered, then the first the head registered (or the end).
  std::vector<size_t> first_param_;
  std::vector<std::pair<size_t, size_t>> units_;
  std::vector<std::pair<size_t, size_t>> expert_units_;
  std::vector<int> expert_unit_of_;
  // The end of parameter `index`'s flat range: every gradient registered at or after it is in [0, end).
  int64_t ready_after(size_t index) const;
};

}  // namespace trident::models
