#pragma once
// Data parallelism (ZeRO stage 0): the flat gradient buffer, laid out in reverse execution order, is cut into
// buckets of about `bucket_numel` elements. Backward reports how far the buffer is final ("the first n
// elements will not change again"), and every bucket that lies wholly inside is all-reduced (averaged) over
// the data-parallel group at once, asynchronously, while backward goes on with the earlier layers.
// finish() launches what is left and waits for everything before the optimizer step.
#include <cstdint>
#include <vector>

#include "core/comm/communicator.h"

namespace trident::zero {

class GradReducer {
 public:
  // grads: the flat gradient buffer (1-D); dp: the data-parallel group.
  GradReducer(Tensor grads, comm::Communicator& dp, int64_t bucket_numel);

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  // Buckets whose all-reduce has been started since begin() (all of them after finish()).
  int started() const { return static_cast<int>(next_); }
  // Call before the backward of the last micro-batch (the only one that communicates).
  void begin();
  // Elements [0, ready_numel) of the buffer are final: start every bucket inside.
  void grads_ready(int64_t ready_numel);
  // Start the remaining buckets and wait for all of them.
  void finish();

 private:
  struct Bucket {
    int64_t begin, end;
    comm::WorkPtr work;
  };
  Tensor grads_;
  comm::Communicator& dp_;
  std::vector<Bucket> buckets_;
  size_t next_ = 0;  // first bucket not yet started
};

}  // namespace trident::zero
