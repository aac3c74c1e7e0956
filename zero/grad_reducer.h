#pragma once
// The data-parallel gradient reduction of one model chunk, bucket by bucket. The flat gradient buffer, laid
// out in reverse execution order, is cut into buckets (flat_layout.h). Backward reports how far the buffer is
// final ("the first n elements will not change again"), and every bucket whose parameters lie wholly inside
// starts at once, asynchronously, while backward goes on with the earlier layers. finish() launches what is
// left and waits for everything before the optimizer step. Two modes:
//   all-reduce (ZeRO stage 0): every bucket averaged in place over the group;
//   reduce-scatter (stages 1-3): every bucket averaged over the group into this rank's piece of a shard
//     buffer (fp32, flat_layout.h's Shard), which is all the optimizer reads.
// Each bucket reduces in the reduce dtype (parallel.grad_reduce_dtype): gradients held in another dtype go
// through the bucket's own staging buffer (bf16 gradients summed in fp32, or fp32 ones sent as bf16). A
// deferred bucket waits for finish(), which first lets the caller sum what the bucket still needs from other
// ranks (a tied embedding's two stages).
#include <cstdint>
#include <functional>
#include <vector>

#include "core/comm/communicator.h"
#include "zero/flat_layout.h"

namespace trident::zero {

class GradReducer {
 public:
  // All-reduce: grads is the flat gradient buffer (1-D), buckets over it, averaged over `group`, in place or,
  // when `dest` is given, into dest (the same flat layout, e.g. fp32 gradients of a bf16 model: the sums in a
  // wider reduce dtype then reach the optimizer without being rounded to the model's dtype first).
  GradReducer(Tensor grads, std::vector<Bucket> buckets, comm::Communicator& group, DType reduce_dtype,
              Tensor dest = {});
  // Buckets of bucket_numel elements over the whole buffer, reduced in its own dtype.
  GradReducer(Tensor grads, comm::Communicator& group, int64_t bucket_numel);
  // Reduce-scatter: bucket b's average lands in shard_grads at shard.pieces[b] (group rank r's piece).
  GradReducer(Tensor grads, std::vector<Bucket> buckets, comm::Communicator& group, DType reduce_dtype,
              Tensor shard_grads, const Shard& shard);

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  // Buckets started since begin() (all of them after finish()).
  int started() const { return started_; }
  // Bytes of staging storage the buckets own (0 when the gradients are in the reduce dtype).
  int64_t staging_bytes() const;
  // Bucket b waits for finish() (called before the first step).
  void defer(size_t bucket) { buckets_.at(bucket).deferred = true; }
  // fp32 accumulation of earlier micro-batches (mixed precision): each bucket reduces the sum of `accum`
  // (f32, the flat layout) and the gradients, in fp32 before any rounding to the reduce dtype.
  void accumulate_from(Tensor accum);
  // Call before the backward of the last micro-batch (the only one that communicates).
  void begin();
  // Elements [0, ready_numel) of the buffer are final: start every bucket inside.
  void grads_ready(int64_t ready_numel);
  // Start the remaining buckets (after before_deferred(), when given, the deferred ones) and wait for all.
  void finish(const std::function<void()>& before_deferred = {});

 private:
  struct InFlight {
    Bucket range;
    Tensor staging;  // the bucket in the reduce dtype, when the gradients are not
    Tensor out;      // reduce-scatter: this rank's piece of the shard (or its reduce-dtype staging)
    Tensor shard;    // reduce-scatter: where `out` is copied when it is staging
    comm::WorkPtr work;
    bool deferred = false, started = false;
    bool in_dest = false;  // staging is the destination's own bucket
  };
  void start(InFlight& f);

  Tensor grads_, dest_, accum_;
  comm::Communicator& group_;
  std::vector<InFlight> buckets_;
  size_t next_ = 0;  // first bucket not yet considered
  int started_ = 0;
  bool scatter_ = false;
};

}  // namespace trident::zero
