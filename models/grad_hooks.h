#pragma once
// GradHooks: what the pipeline executor tells the gradient path (zero::DistributedOptimizer) while a step's
// backwards run, so that data-parallel and ZeRO communication can overlap backward without the executor
// knowing how gradients are reduced: a chunk's backward starts (and whether it is that chunk's last of the
// step, after which its gradients are complete), how far its flat gradient buffer is final meanwhile, that
// it ended, and that every action of the step is done.
#include <cstddef>
#include <cstdint>

namespace trident::models {

class GradHooks {
 public:
  virtual ~GradHooks() = default;
  virtual void backward_begin(int chunk, bool last) = 0;
  // Unit `unit` of the chunk (models::Transformer::units()) is about to write its gradients.
  virtual void unit_backward_begin(int chunk, size_t unit) {}
  // Elements [0, ready_numel) of the chunk's flat gradient buffer will not change again in this backward
  // (the buffer runs in reverse execution order, so it fills from the front).
  virtual void grads_ready(int chunk, int64_t ready_numel) = 0;
  virtual void backward_end(int chunk, bool last) = 0;
  // The step's last action ran: complete every reduction still in flight.
  virtual void finish() = 0;
};

}  // namespace trident::models
