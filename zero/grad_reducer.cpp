#include "zero/grad_reducer.h"

#include <algorithm>

#include "core/ops/ops.h"

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
                         DType reduce_dtype, Tensor dest)
    : grads_(std::move(grads)), dest_(std::move(dest)), group_(group) {
  TRIDENT_CHECK(!dest_.defined() || dest_.numel() == grads_.numel(), "destination of {} for gradients of {}",
                dest_.numel(), grads_.numel());
  for (const Bucket& b : buckets) {
    TRIDENT_CHECK(0 <= b.begin && b.begin <= b.data_end && b.data_end <= b.end && b.end <= grads_.numel(),
                  "bucket [{}, {}) outside a gradient buffer of {}", b.begin, b.end, grads_.numel());
    InFlight f;
    f.range = b;
    // A destination in the reduce dtype is its own staging (a bf16 model's fp32 gradients, reduced in place).
    if (dest_.defined() && dest_.dtype() == reduce_dtype) {
      f.staging = dest_.flat(b.begin, {b.end - b.begin});
      f.in_dest = true;
    } else if (reduce_dtype != grads_.dtype()) {
      f.staging = Tensor::empty({b.end - b.begin}, reduce_dtype, grads_.device());
    }
    buckets_.push_back(std::move(f));
  }
}

GradReducer::GradReducer(Tensor grads, comm::Communicator& group, int64_t bucket_numel)
    : GradReducer(grads, uniform_buckets(grads.numel(), bucket_numel), group, grads.dtype()) {}

GradReducer::GradReducer(Tensor grads, std::vector<Bucket> buckets, comm::Communicator& group,
                         DType reduce_dtype, Tensor shard_grads, const Shard& shard)
    : GradReducer(std::move(grads), std::move(buckets), group, reduce_dtype, Tensor{}) {
  scatter_ = true;
  TRIDENT_CHECK(shard.pieces.size() == buckets_.size(), "{} shard pieces for {} buckets", shard.pieces.size(),
                buckets_.size());
  for (size_t b = 0; b < buckets_.size(); ++b) {
    InFlight& f = buckets_[b];
    const Piece& p = shard.pieces[b];
    TRIDENT_CHECK(p.n * group.size() == f.range.end - f.range.begin,
                  "piece of {} for a bucket of {} over {} ranks", p.n, f.range.end - f.range.begin,
                  group.size());
    Tensor piece = shard_grads.flat(p.shard, {p.n});
    if (reduce_dtype == shard_grads.dtype()) {
      f.out = piece;
    } else {
      f.out = Tensor::empty({p.n}, reduce_dtype, shard_grads.device());
      f.shard = piece;
    }
  }
}

int64_t GradReducer::staging_bytes() const {
  int64_t bytes = 0;
  for (const InFlight& f : buckets_) {
    if (f.staging.defined() && !f.in_dest) bytes += static_cast<int64_t>(f.staging.nbytes());
    if (f.shard.defined()) bytes += static_cast<int64_t>(f.out.nbytes());
  }
  return bytes;
}

void GradReducer::begin() {
  TRIDENT_CHECK(started_ == 0 || started_ == num_buckets(), "begin() while {} buckets are in flight",
                num_buckets() - started_);
  next_ = 0;
  started_ = 0;
  for (InFlight& f : buckets_) f.started = false;
}

void GradReducer::accumulate_from(Tensor accum) {
  TRIDENT_CHECK(accum.dtype() == DType::f32 && accum.numel() == grads_.numel(),
                "an fp32 accumulator of {} elements for gradients of {}", accum.numel(), grads_.numel());
  accum_ = std::move(accum);
  const MemoryScope scope(MemoryCategory::comm_buffers);
  for (InFlight& f : buckets_)
    if (!f.staging.defined())
      f.staging = Tensor::empty({f.range.end - f.range.begin}, grads_.dtype(), grads_.device());
}

void GradReducer::start(InFlight& f) {
  const int64_t n = f.range.end - f.range.begin;
  Tensor view = grads_.flat(f.range.begin, {n});
  Tensor& in = f.staging.defined() ? f.staging : view;
  if (accum_.defined()) {
    // accumulated + this micro-batch, in fp32, then in the reduce dtype
    Tensor sum = view.to(DType::f32);
    ops::add_inplace(sum, accum_.flat(f.range.begin, {n}));
    f.staging.copy_from(sum);
  } else if (f.staging.defined()) {
    f.staging.copy_from(view);
  }
  f.work = scatter_ ? group_.reduce_scatter_async(f.out, in, comm::ReduceOp::avg)
                    : group_.all_reduce_async(in, comm::ReduceOp::avg);
  f.started = true;
  ++started_;
}

void GradReducer::grads_ready(int64_t ready_numel) {
  while (next_ < buckets_.size() && buckets_[next_].range.data_end <= ready_numel) {
    InFlight& f = buckets_[next_++];
    if (!f.deferred) start(f);
  }
  // Poll what is in flight: MPI without a progress thread moves a non-blocking collective's data only when
  // the library is entered, so without this the buckets would make their progress in finish().
  for (size_t b = 0; b < next_; ++b)
    if (buckets_[b].work) buckets_[b].work->test();
}

void GradReducer::finish(const std::function<void()>& before_deferred) {
  next_ = buckets_.size();
  for (InFlight& f : buckets_)
    if (!f.started && !f.deferred) start(f);
  if (before_deferred) before_deferred();
  for (InFlight& f : buckets_)
    if (!f.started) start(f);
  for (InFlight& f : buckets_) {
    f.work->wait();
    f.work.reset();
    if (scatter_) {
      if (f.shard.defined()) f.shard.copy_from(f.out);
      continue;
    }
    const int64_t n = f.range.end - f.range.begin;
    if (f.in_dest) continue;  // reduced where it belongs
    Tensor to = (dest_.defined() ? dest_ : grads_).flat(f.range.begin, {n});
    if (f.staging.defined()) {
      to.copy_from(f.staging);
    } else if (dest_.defined()) {
      to.copy_from(grads_.flat(f.range.begin, {n}));
    }
  }
}

}  // namespace trident::zero
