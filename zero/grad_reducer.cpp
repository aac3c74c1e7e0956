#include "zero/grad_reducer.h"

#include <algorithm>

namespace trident::zero {

namespace {
std::vector<Bucket> uniform_buckets(int64_t n, int64_t bucket_numel) {
  TRIDENT_CHECK(bucket_numel > 0, "bucket size {} must be positive", bucket_numel);
  std::vector<Bucket> out;
  for (int64_t b = 0; b < n; b += bucket_numel) {
    const int64_t end = std::min(n, b + bucket_numel);
    out.push_back({b, end, end});
  }
  return out;
}
}  // namespace

GradReducer::GradReducer(Tensor grads, std::vector<Bucket> buckets, comm::Communicator& group,
                         DType reduce_dtype)
    : grads_(std::move(grads)), group_(group) {
  for (const Bucket& b : buckets) {
    TRIDENT_CHECK(0 <= b.begin && b.begin <= b.data_end && b.data_end <= b.end && b.end <= grads_.numel(),
                  "bucket [{}, {}) outside a gradient buffer of {}", b.begin, b.end, grads_.numel());
    InFlight f{b, {}, nullptr};
    if (reduce_dtype != grads_.dtype())
      f.staging = Tensor::empty({b.end - b.begin}, reduce_dtype, grads_.device());
    buckets_.push_back(std::move(f));
  }
}

GradReducer::GradReducer(Tensor grads, comm::Communicator& group, int64_t bucket_numel)
    : GradReducer(grads, uniform_buckets(grads.numel(), bucket_numel), group, grads.dtype()) {}

int64_t GradReducer::staging_bytes() const {
  int64_t bytes = 0;
  for (const InFlight& f : buckets_)
    if (f.staging.defined()) bytes += static_cast<int64_t>(f.staging.nbytes());
  return bytes;
}

void GradReducer::begin() {
  TRIDENT_CHECK(next_ == 0 || next_ == buckets_.size(), "begin() while {} buckets are in flight",
                buckets_.size() - next_);
  next_ = 0;
}

void GradReducer::grads_ready(int64_t ready_numel) {
  while (next_ < buckets_.size() && buckets_[next_].range.data_end <= ready_numel) {
    InFlight& f = buckets_[next_++];
    Tensor view = grads_.flat(f.range.begin, {f.range.end - f.range.begin});
    if (f.staging.defined()) {
      f.staging.copy_from(view);
      f.work = group_.all_reduce_async(f.staging, comm::ReduceOp::avg);
    } else {
      f.work = group_.all_reduce_async(view, comm::ReduceOp::avg);
    }
  }
}

void GradReducer::finish() {
  grads_ready(grads_.numel());
  for (InFlight& f : buckets_) {
    if (!f.work) continue;
    f.work->wait();
    f.work.reset();
    if (f.staging.defined()) grads_.flat(f.range.begin, {f.range.end - f.range.begin}).copy_from(f.staging);
  }
}

}  // namespace trident::zero
