#pragma once
// AdamW over this rank's shard of one chunk's flat buffers (flat_layout.h): fp32 moments m and v for the
// shard's elements only (1/N of the model under ZeRO 1-3, all of it at stage 0), updated run by run, a run
// being a stretch of the shard whose parameters share one weight decay (decay on matrices and embeddings,
// not on norms and biases). torch.optim.AdamW's arithmetic, as core/optim/adamw.h.
#include <cstdint>
#include <vector>

#include "core/optim/adamw.h"
#include "core/tensor/param_set.h"
#include "zero/flat_layout.h"

namespace trident::zero {

class ShardedAdamW {
 public:
  ShardedAdamW(const ParamSet& params, const Shard& shard, AdamWConfig cfg, Device device);

  // One update with learning rate lr. params: the fp32 values being updated, in the flat layout (a model's
  // flat buffer) when `flat` is true, else in the shard's layout (master weights); grads: the shard's fp32
  // gradients.
  void step(double lr, Tensor& params, bool flat, const Tensor& grads);
  // The same update piece by piece (so that each piece's parameters can be sent on while the next is
  // updated): begin_step(), then update() for every piece of the shard.
  void begin_step() { ++step_; }
  void update(size_t piece, double lr, Tensor& params, bool flat, const Tensor& grads);

  int64_t steps_taken() const { return step_; }
  void set_steps_taken(int64_t steps);
  Tensor& exp_avg() { return m_; }
  Tensor& exp_avg_sq() { return v_; }

 private:
  struct Run {
    int64_t flat, n, shard;
    bool decay;
  };
  std::vector<std::vector<Run>> runs_;  // per piece of the shard, in flat order
  AdamWConfig cfg_;
  Tensor m_, v_;
  int64_t step_ = 0;
};

}  // namespace trident::zero
