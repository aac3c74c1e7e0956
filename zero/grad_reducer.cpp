#include "zero/grad_reducer.h"

#include <algorithm>

namespace trident::zero {

GradReducer::GradReducer(Tensor grads, comm::Communicator& dp, int64_t bucket_numel)
    : grads_(std::move(grads)), dp_(dp) {
  TRIDENT_CHECK(bucket_numel > 0, "bucket size {} must be positive", bucket_numel);
  const int64_t n = grads_.numel();
  for (int64_t b = 0; b < n; b += bucket_numel)
    buckets_.push_back({b, std::min(n, b + bucket_numel), nullptr});
}

void GradReducer::begin() {
  TRIDENT_CHECK(next_ == 0 || next_ == buckets_.size(), "begin() while {} buckets are in flight",
                buckets_.size() - next_);
  next_ = 0;
}

void GradReducer::grads_ready(int64_t ready_numel) {
  while (next_ < buckets_.size() && buckets_[next_].end <= ready_numel) {
    Bucket& b = buckets_[next_++];
    Tensor view = grads_.flat(b.begin, {b.end - b.begin});
    b.work = dp_.all_reduce_async(view, comm::ReduceOp::avg);
  }
}

void GradReducer::finish() {
  grads_ready(grads_.numel());
  for (Bucket& b : buckets_) {
    if (b.work) b.work->wait();
    b.work.reset();
  }
}

}  // namespace trident::zero
