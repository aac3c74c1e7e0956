#pragma once
// StepHooks: what the pipeline executor and the model tell the ZeRO path (zero::DistributedOptimizer) while a
// step runs, so that it can overlap its communication with compute without either knowing how parameters and
// gradients are sharded:
//   per unit (models::Transformer::units(): the embedding, each block, the head), before and after its
//     forward and its backward: stage 3 gathers the unit's parameters before and releases them after, and
//     stage 2 binds its gradients to staging before its backward;
//   per backward: a chunk's backward starts and ends (and whether it is that chunk's last of the step, after
//     which its gradients are complete), and how far its flat gradient buffer is final meanwhile;
//   per step: every action is done.
// Forward-only passes (evaluation) make only the per-unit forward calls.
#include <cstddef>
#include <cstdint>

namespace trident::models {

class StepHooks {
 public:
  virtual ~StepHooks() = default;
  virtual void unit_forward_begin(int /*chunk*/, size_t /*unit*/) {}
  virtual void unit_forward_end(int /*chunk*/, size_t /*unit*/) {}
  virtual void unit_backward_begin(int /*chunk*/, size_t /*unit*/) {}
  virtual void unit_backward_end(int /*chunk*/, size_t /*unit*/) {}
  virtual void backward_begin(int chunk, bool last) = 0;
  // Elements [0, ready_numel) of the chunk's flat gradient buffer will not change again in this backward
  // (the buffer runs in reverse execution order, so it fills from the front).
  virtual void grads_ready(int chunk, int64_t ready_numel) = 0;
  virtual void backward_end(int chunk, bool last) = 0;
  // The step's last action ran: complete every reduction still in flight.
  virtual void finish() = 0;
};

}  // namespace trident::models
