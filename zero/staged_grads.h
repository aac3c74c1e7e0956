#pragma once
// ZeRO stage 2: a chunk's gradients are never held in full. While a micro-batch's backward runs, each bucket
// (flat_layout.h) gets a staging buffer just before the backward of its first unit: the parameters' grad
// views are bound there, zeroed. Once the bucket is final for this backward it is reduce-scattered over the
// group, its average is added into this rank's fp32 shard, and the buffer goes back to a pool for the next
// bucket. The model's own flat gradient buffer is dropped.
//
// A bucket holding a parameter whose gradient is complete only after other units or stages have written it
// (a tied embedding: Param::tied, Param::shared) keeps its own buffer for the whole step, accumulates every
// micro-batch (in fp32, folded after each backward, when the model is bf16/fp16), and is reduce-scattered
// once, in finish(), after the caller's sum between stages.
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "core/comm/communicator.h"
#include "core/tensor/param_set.h"
#include "zero/comm_trace.h"
#include "zero/flat_layout.h"

namespace trident::zero {

class StagedGrads {
 public:
  // params: the chunk, already laid out as `layout` (its flat gradients are dropped here); shard_grads: this
  // rank's fp32 gradient shard (the shard's layout), which every bucket's average is added into.
  // trace: where reduce-scatters are recorded (may be null).
  StagedGrads(ParamSet& params, const FlatLayout& layout, comm::Communicator& group, DType reduce_dtype,
              Tensor shard_grads, const Shard& shard, CommTrace* trace = nullptr);

  // A micro-batch's backward starts, then each unit's, then the buffer is final up to ready_numel; then the
  // backward ends.
  void backward_begin();
  void unit_begin(size_t unit);
  void grads_ready(int64_t ready_numel);
  void backward_end();
  // The step's last action ran: waits for every bucket, reduces the persistent ones (after
  // before_persistent(), the sum between stages) and leaves the shard complete.
  void finish(const std::function<void()>& before_persistent = {});
  // Zeroes the persistent buckets (the shard is the caller's).
  void zero_grads();

  // Bytes of the staging buffers (pool and persistent buckets) and of the reduce-dtype copies.
  int64_t staging_bytes() const;

 private:
  struct State {
    int buffer = -1;  // the pool buffer bound to it in this backward, or -1
    bool persistent = false, started = false;
    Tensor storage;  // persistent buckets: their own buffer
    Tensor accum;    // persistent buckets of a bf16/fp16 model: the fp32 sum of the step's micro-batches
  };
  struct InFlight {
    size_t bucket;
    int buffer;  // pool buffer to release, or -1
    Tensor in, out;
    comm::WorkPtr work;
    size_t event = 0;
  };
  void bind(size_t bucket, const Tensor& storage);
  int acquire();
  void start(size_t bucket);
  void retire_oldest();

  ParamSet& params_;
  FlatLayout layout_;  // a copy: the caller's may move
  comm::Communicator& group_;
  DType reduce_dtype_;
  Tensor shard_grads_;
  Shard shard_;
  std::vector<State> state_;
  std::vector<Tensor> pool_;
  std::vector<int> free_;
  std::deque<InFlight> inflight_;
  std::vector<std::vector<size_t>> bucket_params_;
  int64_t max_bucket_ = 0;
  CommTrace* trace_;
};

}  // namespace trident::zero
