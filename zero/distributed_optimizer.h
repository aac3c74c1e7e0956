#pragma once
// DistributedOptimizer: the one owner of the path from a step's gradients to its update (Megatron-core's
// DistributedOptimizer over its param_and_grad_buffer). Per model chunk it holds the data-parallel buckets
// (grad_reducer.h), the partial-sum finalizer (partial_grads.h), the fp32 master weights of a bf16/fp16 model
// and AdamW. A step, in order:
//   1. during backward (models::GradHooks, called by the pipeline executor): each chunk's gradient buckets
//      are averaged over the data-parallel group as they become final in its last backward;
//   2. finalize: the parts the parameters declare (tensor-parallel, replicated key/value blocks, the tied
//      embedding between first and last stage) are summed;
//   3. unscale into the fp32 masters and check for inf/nan (fp16: every rank agrees to skip the step);
//   4. the global gradient norm, every element counted once over tp shards and pipeline stages;
//   5. clip by it, AdamW on every chunk, and copy the masters back into the model.
// This is ZeRO stage 0: every data-parallel rank holds and updates everything.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/optim/adamw.h"
#include "core/optim/loss_scaler.h"
#include "core/optim/master_weights.h"
#include "models/grad_hooks.h"
#include "zero/flat_layout.h"
#include "zero/grad_reducer.h"
#include "zero/partial_grads.h"

namespace trident::zero {

// The groups the gradient path runs over; the caller owns them.
struct Groups {
  comm::Communicator* world = nullptr;      // every rank: agreement on an fp16 overflow
  comm::Communicator* tp = nullptr;         // tensor-parallel group
  comm::Communicator* pp = nullptr;         // pipeline group: the norm sums over stages
  comm::Communicator* dp = nullptr;         // data-parallel group: gradients averaged over it
  comm::Communicator* embedding = nullptr;  // first + last stage of a tied model split into stages, or null
};

struct OptimizerConfig {
  AdamWConfig adamw;
  double grad_clip = 0;             // clip the global norm to this; 0: no clipping
  int64_t bucket_numel = 1 << 20;   // data-parallel bucket size, in gradient elements
  DType reduce_dtype = DType::f32;  // parallel.grad_reduce_dtype
  LossScaler scaler = LossScaler::constant();
};

// One model chunk as the optimizer sees it: its parameters (finalized; laid out again by the optimizer) and
// its units, [first, last) parameter indices in registration order (models::Transformer::units(); empty:
// one unit of everything).
struct ChunkParams {
  ParamSet* params;
  std::vector<std::pair<size_t, size_t>> units;
};

class DistributedOptimizer final : public models::GradHooks {
 public:
  // Every rank constructs it together. chunks: this rank's model chunks, whose flat buffers it lays out in
  // padded buckets (flat_layout.h) and updates in place; a bf16/fp16 chunk gets fp32 master weights.
  DistributedOptimizer(std::vector<ChunkParams> chunks, const Groups& groups, OptimizerConfig cfg);

  // The factor this step's backward multiplies the loss by (fp16 loss scaling; 1 otherwise).
  double loss_scale() const { return scaler_.scale(); }
  void zero_grads();

  void backward_begin(int chunk, bool last) override;
  void grads_ready(int chunk, int64_t ready_numel) override;
  void backward_end(int chunk, bool last) override {}
  void finish() override;

  struct StepResult {
    double grad_norm = 0;
    bool skipped = false;  // fp16 overflow: no update, the loss scale was backed off
  };
  // Steps 2-5 above, once every backward of the step is done (finish() called).
  StepResult step(double lr);

  // The fp32 parameters AdamW updates for chunk c: its master weights, or the fp32 model itself.
  ParamSet& optimized(size_t chunk);
  // After optimized() was written from outside (loaded weights): the model follows.
  void copy_to_model();

  const FlatLayout& layout(size_t chunk) const { return chunks_.at(chunk).layout; }
  // This rank's optimizer state, by name: "exp_avg.<param>", "exp_avg_sq.<param>", "master.<param>" (mixed
  // precision) as local shards, and the scalars "step", "loss_scale", "loss_scale_good_steps",
  // "loss_scale_skipped" (f64, shape (1)). load_state_dict takes the same names and shapes back.
  std::map<std::string, Tensor> state_dict();
  void load_state_dict(const std::map<std::string, Tensor>& state);

 private:
  struct Chunk {
    ParamSet* model;
    FlatLayout layout;
    std::unique_ptr<MasterWeights> masters;  // null for an fp32 model
    std::unique_ptr<AdamW> adamw;
    std::unique_ptr<GradReducer> reducer;  // null without data parallelism
    std::unique_ptr<PartialGrads> partial;
    bool reducing = false;  // its last backward began: buckets start as they become final
  };
  bool unscale_into_masters();
  double global_grad_norm();

  std::vector<Chunk> chunks_;
  Groups groups_;
  OptimizerConfig cfg_;
  LossScaler scaler_;
};

}  // namespace trident::zero
