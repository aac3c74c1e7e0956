#pragma once
// DistributedOptimizer: the one owner of the path from a step's gradients to its update (Megatron-core's
// DistributedOptimizer over its param_and_grad_buffer), for ZeRO stages 0, 1 and 2 over the data-parallel
// group.
//
// Per model chunk it lays out the flat buffers in padded buckets (flat_layout.h) and keeps this rank's shard
// of them: at stage 0 the whole buffer, at stages 1 to 3 piece r of every bucket for data-parallel rank r of
// N (stage 3: one unit per bucket, and the parameters themselves live only as pieces, gathered per unit by
// unit_gather.h). For
// the shard it holds the fp32 gradients, the fp32 master weights (bf16/fp16 models) and AdamW's moments
// (sharded_adamw.h). A step, in order:
//   1. during backward (models::StepHooks, called by the pipeline executor): each chunk's buckets, as they
//      become final in its last backward, are averaged over the data-parallel group: all-reduced in place
//      (stage 0) or reduce-scattered into the shard (stage 1); at stage 2 in every backward, from staging
//      buffers that hold only the buckets being written (staged_grads.h), added into the shard;
//   2. finalize: the parts the parameters declare (tensor-parallel, replicated key/value blocks, the tied
//      embedding between first and last stage) are summed (partial_grads.h);
//   3. unscale the shard's fp32 gradients and check for inf/nan (mixed precision: every rank agrees to skip);
//   4. the global gradient norm, every element counted once over tp shards, shard pieces and stages;
//   5. clip by it, AdamW on the shard, round the masters back into the model;
//   6. stages 1 and 2: all-gather the updated parameters, each bucket as soon as its piece is updated (stage
//   3
//      gathers on demand).
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/comm/communicator.h"
#include "core/optim/adamw.h"
#include "core/optim/loss_scaler.h"
#include "models/step_hooks.h"
#include "zero/flat_layout.h"
#include "zero/grad_norm.h"
#include "zero/grad_reducer.h"
#include "zero/partial_grads.h"
#include "zero/sharded_adamw.h"
#include "zero/staged_grads.h"
#include "zero/unit_gather.h"

namespace trident::zero {

// The groups the gradient path runs over; the caller owns them.
struct Groups {
  comm::Communicator* world = nullptr;      // every rank: agreement on an fp16 overflow
  comm::Communicator* tp = nullptr;         // tensor-parallel group
  comm::Communicator* pp = nullptr;         // pipeline group: the norm sums over stages
  comm::Communicator* dp = nullptr;         // data-parallel group: gradients averaged, ZeRO shards over it
  comm::Communicator* embedding = nullptr;  // first + last stage of a tied model split into stages, or null
  // Hybrid sharding: ZeRO shards over `shard` (consecutive data-parallel ranks) and the shards' gradients are
  // averaged across `replica` (the same place in every shard group). Null: shards over all of dp.
  comm::Communicator* shard = nullptr;
  comm::Communicator* replica = nullptr;
  // Expert parallelism: the expert-parallel group (its ranks hold different experts) and the
  // expert-data-parallel group (ranks holding the same experts), over which expert gradients are summed
  // before they are divided by dp like every other gradient. Null without expert parallelism.
  comm::Communicator* ep = nullptr;
  comm::Communicator* edp = nullptr;
};

struct OptimizerConfig {
  AdamWConfig adamw;
  double grad_clip = 0;               // clip the global norm to this; 0: no clipping
  int64_t bucket_numel = 1 << 20;     // gradient bucket size, in elements
  DType reduce_dtype = DType::f32;    // parallel.grad_reduce_dtype
  int stage = 0;                      // parallel.zero_stage: 0 to 3
  int prefetch = 1;                   // parallel.zero_prefetch: stage-3 units gathered ahead
  bool reshard_after_forward = true;  // parallel.zero_reshard_after_forward
  int microbatches = 1;               // per step and chunk: more than one makes mixed precision accumulate
  LossScaler scaler = LossScaler::constant();
};

// One model chunk as the optimizer sees it: its parameters (finalized; laid out again by the optimizer) and
// its units, [first, last) parameter indices in registration order (models::Transformer::units(); empty:
// one unit of everything).
struct ChunkParams {
  ParamSet* params;
  std::vector<std::pair<size_t, size_t>> units;
  // Per unit, the units whose parameters it reads (models::Transformer::units_read); empty: only itself.
  std::vector<std::vector<size_t>> unit_reads = {};
  // The chunk's experts under expert parallelism (models::Transformer::expert_params), or null. They take
  // part in every step alongside the chunk, at the same ZeRO stage but over Groups::edp (reduced, sharded and
  // gathered there), and count in the norm over the expert-parallel group. expert_units: their units
  // (one per MoE block); expert_unit_of[u]: the expert unit that the chunk's unit u computes, or -1.
  ParamSet* experts = nullptr;
  std::vector<std::pair<size_t, size_t>> expert_units = {};
  std::vector<int> expert_unit_of = {};
};

class DistributedOptimizer final : public models::StepHooks {
 public:
  // Every rank constructs it together. chunks: this rank's model chunks, updated in place.
  DistributedOptimizer(std::vector<ChunkParams> chunks, const Groups& groups, OptimizerConfig cfg);

  // The factor this step's backward multiplies the loss by (fp16 loss scaling; 1 otherwise).
  double loss_scale() const { return scaler_.scale(); }
  void zero_grads();

  void unit_forward_begin(int chunk, size_t unit) override;
  void unit_forward_end(int chunk, size_t unit) override;
  void unit_backward_begin(int chunk, size_t unit) override;
  void unit_backward_end(int chunk, size_t unit) override;
  void backward_begin(int chunk, bool last) override;
  void grads_ready(int chunk, int64_t ready_numel) override;
  void backward_end(int chunk, bool last) override;
  void finish() override;

  struct StepResult {
    double grad_norm = 0;
    bool skipped = false;  // overflow: no update (fp16: the loss scale was backed off)
  };
  // Steps 2-6 above, once every backward of the step is done (finish() called).
  StepResult step(double lr);

  // Chunk c's parameters in full fp32 precision, in its flat layout: the fp32 model's own values, or the
  // master weights (gathered over the data-parallel group when they are sharded: a collective there).
  // experts: the chunk's expert parameters instead (expert parallelism).
  ParamSet fp32_params(size_t chunk, bool experts = false);
  // Sets chunk c's parameters (or its experts') from fp32 values in its flat layout: the model rounded, the
  // masters exact.
  void load_fp32(size_t chunk, const ParamSet& values, bool experts = false);

  // The last step's ZeRO collectives (stages 2 and 3: reduce-scatters and unit gathers) and, at stage 3, its
  // units' forwards and backwards, for its trace.
  const CommTrace& comm_trace() const { return trace_; }
  int shards() const { return shards_; }
  int stage() const { return cfg_.stage; }  // 0 when there is one data-parallel rank
  bool mixed() const { return chunks_.front().mixed; }
  const FlatLayout& layout(size_t chunk) const { return chunks_.at(chunk).layout; }
  const Shard& shard(size_t chunk) const { return chunks_.at(chunk).shard; }
  // This rank's optimizer state: per chunk c its shard's "chunk<c>.exp_avg", "chunk<c>.exp_avg_sq" and, in
  // mixed precision, "chunk<c>.master" (f32, the shard's elements in its layout), and the scalars "step",
  // "loss_scale", "loss_scale_good_steps", "loss_scale_skipped" (f64, shape (1)). load_state_dict takes the
  // same names and shapes back, under the same layout.
  std::map<std::string, Tensor> state_dict();
  void load_state_dict(const std::map<std::string, Tensor>& state);

  // Checkpoints (train/checkpointer.h) read and write the state where it lives: per chunk, each followed by
  // its experts, this rank's shard in the shard's layout, and how many ranks hold the same shard (the whole
  // group when the state is not sharded, the replicas under hybrid sharding) with this rank's place among
  // them: each of them saves its part of the shard.
  struct ShardState {
    size_t chunk = 0;
    bool experts = false;
    const ParamSet* params = nullptr;  // names, global shapes, shard specs
    const FlatLayout* layout = nullptr;
    const Shard* shard = nullptr;
    Tensor exp_avg, exp_avg_sq;  // (shard numel) f32: the live moments
    int holders = 1, holder = 0;
  };
  std::vector<ShardState> shard_states();
  // The shard's fp32 weights: the master weights themselves (live: copy them to keep them), or a packed copy
  // of an fp32 model's own parameters.
  Tensor shard_weights(size_t chunk, bool experts);
  // What else a resumed step needs: AdamW's step count and the loss scaler.
  struct Progress {
    int64_t steps = 0;
    double loss_scale = 1;
    int64_t good_steps = 0, skipped = 0;
  };
  Progress progress() const;
  void restore(const Progress& p);

 private:
  struct Chunk {
    ParamSet* model;
    FlatLayout layout;
    Shard shard;
    bool mixed = false;  // a bf16/fp16 model
    // The shard's fp32 parameters, which AdamW updates: the master weights of a bf16/fp16 model, and at stage
    // 3 the only copy of any model's parameters. Undefined for an fp32 model at stages 0-2 (AdamW updates the
    // model's own flat buffer).
    Tensor master;
    Tensor grads;  // the shard's fp32 gradients: the fp32 model's own at stage 0, else a buffer
    // Mixed precision at stages 0 and 1: the fp32 sum of the step's earlier micro-batches (at stage 0 `grads`
    // itself; at stage 1 a whole-buffer one, made when a step first has several micro-batches). Stage 2 adds
    // every micro-batch into `grads` already, so every stage accumulates in fp32 (Megatron's main_grad).
    Tensor accum;
    // What ZeRO shards this chunk over: the group (dp, a hybrid shard group, or edp for experts), its replica
    // group under hybrid sharding, the chunk's stage (0 where the group has one rank), and this rank's place.
    comm::Communicator* group = nullptr;
    comm::Communicator* replica = nullptr;
    std::vector<std::pair<size_t, size_t>> units;
    int stage = 0, shards = 1, shard_rank = 0;
    std::unique_ptr<ShardedAdamW> adamw;
    std::unique_ptr<GradReducer> reducer;  // stages 0 and 1; null without data parallelism
    std::unique_ptr<StagedGrads> staged;   // stages 2 and 3
    std::unique_ptr<UnitGather> gather;    // stage 3
    std::unique_ptr<PartialGrads> partial;
    std::unique_ptr<ShardNorm> norm;
    bool reducing = false;  // its last backward began: buckets start as they become final
    size_t unit_event = 0;  // the trace event of the unit computing now (stage 3)
    // Expert parameters: averaged over the expert-data-parallel group, then scaled by edp / dp (their sum
    // over edp, divided by dp like every gradient).
    double grad_scale = 1.0;
    std::unique_ptr<Chunk> experts;  // the chunk's experts under expert parallelism, or null
    std::vector<int> expert_unit;    // per unit of this chunk, the expert unit it computes (or -1)
  };
  struct Sharding {
    comm::Communicator* group;
    comm::Communicator* replica;
    int stage, shards, rank;
    bool traced = true;  // its reduce-scatters and gathers go into the step's trace (not the experts')
  };
  Chunk make_chunk(ChunkParams& chunk, comm::Communicator& reduce_group, const Sharding& sharding);
  // The expert unit that unit `unit` of `c` computes, or null.
  Chunk* experts_of(Chunk& c, size_t unit, size_t& expert_unit);
  Chunk& chunk_at(size_t chunk, bool experts);
  // Every chunk, each followed by its experts (expert parallelism); with their state_dict prefixes
  // ("chunk<c>.", "chunk<c>.experts.").
  std::vector<Chunk*> all_chunks();
  std::vector<std::pair<std::string, Chunk*>> named_chunks();
  // Mixed precision at stages 0 and 1: a micro-batch that is not the step's last joins the fp32 sum.
  void accumulate_micro_batch(Chunk& c, bool last);
  bool unscale();
  double global_grad_norm();
  void all_gather_params();
  // Starts the all-gather of bucket b's parameters over the shard group (returns the work and its input).
  std::pair<comm::WorkPtr, Tensor> all_gather_bucket(Chunk& c, size_t b);

  std::vector<Chunk> chunks_;
  Groups groups_;
  comm::Communicator* shard_group_;  // what ZeRO shards over: groups_.shard, or dp
  OptimizerConfig cfg_;
  LossScaler scaler_;
  CommTrace trace_;
  int shards_ = 1, shard_rank_ = 0;
};

}  // namespace trident::zero
