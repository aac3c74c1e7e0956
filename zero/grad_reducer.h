#pragma once
// Data parallelism (ZeRO stage 0): the flat gradient buffer, laid out in reverse execution order, is cut into
// buckets (zero/flat_layout.h). Backward reports how far the buffer is final ("the first n elements will not
// change again"), and every bucket whose parameters lie wholly inside is all-reduced (averaged) over the
// data-parallel group at once, asynchronously, while backward goes on with the earlier layers. finish()
// launches what is left and waits for everything before the optimizer step.
//
// Each bucket reduces in its reduce dtype (parallel.grad_reduce_dtype): gradients held in another dtype go
// through the bucket's own staging buffer (bf16 gradients summed in fp32, or fp32 ones sent as bf16).
#include <cstdint>
#include <vector>

#include "core/comm/communicator.h"
#include "zero/flat_layout.h"

namespace trident::zero {

class GradReducer {
 public:
  // grads: the flat gradient buffer (1-D); buckets over it, averaged over `group` in reduce_dtype.
  GradReducer(Tensor grads, std::vector<Bucket> buckets, comm::Communicator& group, DType reduce_dtype);
  // Buckets of bucket_numel elements over the whole buffer, reduced in its own dtype.
  GradReducer(Tensor grads, comm::Communicator& group, int64_t bucket_numel);

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  // Buckets whose all-reduce has been started since begin() (all of them after finish()).
  int started() const { return static_cast<int>(next_); }
  // Bytes of staging storage the buckets own (0 when the gradients are in the reduce dtype).
  int64_t staging_bytes() const;
  // Call before the backward of the last micro-batch (the only one that communicates).
  void begin();
  // Elements [0, ready_numel) of the buffer are final: start every bucket inside.
  void grads_ready(int64_t ready_numel);
  // Start the remaining buckets and wait for all of them.
  void finish();

 private:
  struct InFlight {
    Bucket range;
    Tensor staging;  // the bucket in reduce_dtype, when the gradients are not
    comm::WorkPtr work;
  };
  Tensor grads_;
  comm::Communicator& group_;
  std::vector<InFlight> buckets_;
  size_t next_ = 0;  // first bucket not yet started
};

}  // namespace trident::zero
