#include "zero/unit_gather.h"

#include <algorithm>

namespace trident::zero {

UnitGather::UnitGather(ParamSet& params, const FlatLayout& layout, comm::Communicator& group, Tensor values,
                       const Shard& shard, std::vector<std::vector<size_t>> unit_reads, int prefetch,
                       bool reshard_after_forward, CommTrace* trace)
    : params_(params),
      layout_(layout),
      group_(group),
      values_(std::move(values)),
      shard_(shard),
      unit_reads_(std::move(unit_reads)),
      prefetch_(std::max(prefetch, 0)),
      reshard_after_forward_(reshard_after_forward),
      trace_(trace) {
  TRIDENT_CHECK(unit_reads_.size() == layout.unit_bucket.size(), "{} unit reads for {} units",
                unit_reads_.size(), layout.unit_bucket.size());
  state_.resize(layout.buckets.size());
  bucket_params_.resize(layout.buckets.size());
  for (size_t i = 0; i < params.params().size(); ++i) {
    size_t b = 0;
    while (layout.buckets[b].end <= layout.offsets[i]) ++b;
    bucket_params_[b].push_back(i);
  }
  for (const Bucket& b : layout.buckets) max_bucket_ = std::max(max_bucket_, b.end - b.begin);
  params.drop_values();
}

void UnitGather::start(size_t b) {
  State& s = state_[b];
  if (s.buffer >= 0) return;  // gathered or on its way
  if (free_.empty()) {
    const MemoryScope scope(MemoryCategory::gathered_units);
    pool_.push_back(Tensor::empty({max_bucket_}, params_.dtype(), params_.device()));
    free_.push_back(static_cast<int>(pool_.size()) - 1);
  }
  s.buffer = free_.back();
  free_.pop_back();
  const Bucket& bucket = layout_.buckets[b];
  const Piece& piece = shard_.pieces[b];
  Tensor out = pool_[s.buffer].flat(0, {bucket.end - bucket.begin});
  const MemoryScope scope(MemoryCategory::comm_buffers);
  s.in = values_.flat(piece.shard, {piece.n}).to(params_.dtype());  // a copy: the input may not alias
  s.work = group_.all_gather_async(out, s.in);
  if (trace_) {
    const auto [first, last] = layout_.bucket_units(b);
    s.event = trace_->issued("all_gather", first, last);
  }
  ++gathers_;
}

void UnitGather::poll() {
  if (!trace_) return;
  for (State& s : state_)
    if (s.work && s.work->test()) trace_->done(s.event);
}

void UnitGather::acquire(size_t b) {
  start(b);
  State& s = state_[b];
  if (s.work) {
    s.work->wait();
    if (trace_) trace_->done(s.event);
    s.work.reset();
    s.in = Tensor{};
  }
  if (!s.bound) {
    const Tensor& buffer = pool_[s.buffer];
    for (size_t i : bucket_params_[b]) {
      Param& p = params_.params()[i];
      p.value = buffer.flat(layout_.offsets[i] - layout_.buckets[b].begin, p.local_shape());
    }
    s.bound = true;
  }
  ++s.refs;
}

void UnitGather::release(size_t b, bool keep) {
  State& s = state_[b];
  TRIDENT_CHECK(s.refs > 0, "bucket {} released more often than acquired", b);
  if (--s.refs > 0 || keep) return;
  for (size_t i : bucket_params_[b]) params_.params()[i].value = Tensor{};
  s.bound = false;
  free_.push_back(s.buffer);
  s.buffer = -1;
}

void UnitGather::prefetch_from(size_t unit, int direction) {
  for (int k = 1; k <= prefetch_; ++k) {
    const int64_t u = static_cast<int64_t>(unit) + direction * k;
    if (u < 0 || u >= static_cast<int64_t>(unit_reads_.size())) break;
    for (size_t r : unit_reads_[u]) start(layout_.unit_bucket[r]);
  }
}

void UnitGather::forward_begin(size_t unit) {
  poll();
  for (size_t r : unit_reads_.at(unit)) acquire(layout_.unit_bucket[r]);
  prefetch_from(unit, +1);
}

void UnitGather::forward_end(size_t unit) {
  poll();
  for (size_t r : unit_reads_.at(unit)) release(layout_.unit_bucket[r], /*keep=*/!reshard_after_forward_);
}

void UnitGather::backward_begin(size_t unit) {
  poll();
  for (size_t r : unit_reads_.at(unit)) acquire(layout_.unit_bucket[r]);
  prefetch_from(unit, -1);
}

void UnitGather::backward_end(size_t unit) {
  poll();
  for (size_t r : unit_reads_.at(unit)) release(layout_.unit_bucket[r], /*keep=*/false);
}

void UnitGather::release_all() {
  for (size_t b = 0; b < state_.size(); ++b) {
    State& s = state_[b];
    TRIDENT_CHECK(s.refs == 0, "bucket {} still in use at the optimizer step", b);
    if (s.work) {
      s.work->wait();
      if (trace_) trace_->done(s.event);
      s.work.reset();
      s.in = Tensor{};
    }
    if (s.buffer < 0) continue;
    for (size_t i : bucket_params_[b]) params_.params()[i].value = Tensor{};
    s.bound = false;
    free_.push_back(s.buffer);
    s.buffer = -1;
  }
}

int64_t UnitGather::pool_bytes() const {
  int64_t bytes = 0;
  for (const Tensor& t : pool_) bytes += static_cast<int64_t>(t.nbytes());
  return bytes;
}

}  // namespace trident::zero
