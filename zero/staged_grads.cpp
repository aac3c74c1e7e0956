#include "zero/staged_grads.h"

#include <algorithm>

#include "core/ops/ops.h"

namespace trident::zero {

StagedGrads::StagedGrads(ParamSet& params, const FlatLayout& layout, comm::Communicator& group,
                         DType reduce_dtype, Tensor shard_grads, const Shard& shard, CommTrace* trace)
    : params_(params),
      layout_(layout),
      group_(group),
      reduce_dtype_(reduce_dtype),
      shard_grads_(std::move(shard_grads)),
      shard_(shard),
      trace_(trace) {
  TRIDENT_CHECK(shard_.pieces.size() == layout.buckets.size(), "{} shard pieces for {} buckets",
                shard_.pieces.size(), layout.buckets.size());
  state_.resize(layout.buckets.size());
  bucket_params_.resize(layout.buckets.size());
  const auto& ps = params.params();
  for (size_t i = 0; i < ps.size(); ++i) {
    size_t b = 0;
    while (layout.buckets[b].end <= layout.offsets[i]) ++b;
    bucket_params_[b].push_back(i);
    if (ps[i].tied || ps[i].shared) state_[b].persistent = true;
  }
  const DType dtype = params.dtype();
  const Device device = params.device();
  params.drop_grads();
  for (size_t b = 0; b < layout.buckets.size(); ++b) {
    const Bucket& bucket = layout.buckets[b];
    max_bucket_ = std::max(max_bucket_, bucket.end - bucket.begin);
    if (!state_[b].persistent) continue;
    const MemoryScope scope(MemoryCategory::gradients);  // held for the whole step, like stage 1's
    state_[b].storage = Tensor::zeros({bucket.end - bucket.begin}, dtype, device);
    if (dtype != DType::f32) state_[b].accum = Tensor::zeros({bucket.end - bucket.begin}, DType::f32, device);
    bind(b, state_[b].storage);
  }
}

void StagedGrads::bind(size_t bucket, const Tensor& storage) {
  const int64_t begin = layout_.buckets[bucket].begin;
  for (size_t i : bucket_params_[bucket]) {
    Param& p = params_.params()[i];
    p.grad = storage.flat(layout_.offsets[i] - begin, p.local_shape());
  }
}

int StagedGrads::acquire() {
  if (free_.empty() && !inflight_.empty() && static_cast<int>(pool_.size()) >= 2) retire_oldest();
  if (free_.empty()) {
    const MemoryScope scope(MemoryCategory::comm_buffers);
    pool_.push_back(Tensor::empty({max_bucket_}, params_.dtype(), params_.device()));
    free_.push_back(static_cast<int>(pool_.size()) - 1);
  }
  const int buffer = free_.back();
  free_.pop_back();
  return buffer;
}

void StagedGrads::backward_begin() {
  for (size_t b = 0; b < state_.size(); ++b) {
    TRIDENT_CHECK(state_[b].persistent || state_[b].buffer < 0, "bucket {} still bound at a backward's start",
                  b);
    state_[b].started = false;
  }
}

void StagedGrads::unit_begin(size_t unit) {
  const size_t b = layout_.unit_bucket.at(unit);
  State& s = state_[b];
  if (s.persistent || s.buffer >= 0) return;
  s.buffer = acquire();
  const Bucket& bucket = layout_.buckets[b];
  Tensor storage = pool_[s.buffer].flat(0, {bucket.end - bucket.begin});
  storage.zero();
  bind(b, storage);
}

void StagedGrads::start(size_t b) {
  const MemoryScope scope(MemoryCategory::comm_buffers);
  State& s = state_[b];
  const Bucket& bucket = layout_.buckets[b];
  const Piece& piece = shard_.pieces[b];
  Tensor storage = s.persistent ? (s.accum.defined() ? s.accum : s.storage)
                                : pool_[s.buffer].flat(0, {bucket.end - bucket.begin});
  InFlight f{b, s.persistent ? -1 : s.buffer, storage,
             Tensor::empty({piece.n}, reduce_dtype_, storage.device()), nullptr};
  if (reduce_dtype_ != storage.dtype()) f.in = storage.to(reduce_dtype_);
  f.work = group_.reduce_scatter_async(f.out, f.in, comm::ReduceOp::avg);
  if (trace_) {
    const auto [first, last] = layout_.bucket_units(b);
    f.event = trace_->issued("reduce_scatter", first, last);
  }
  inflight_.push_back(std::move(f));
  s.started = true;
  if (!s.persistent) {
    // The parameters' views stay on the buffer until the next backward binds them again; nothing writes them.
    s.buffer = -1;
  }
}

void StagedGrads::grads_ready(int64_t ready_numel) {
  for (size_t b = 0; b < state_.size(); ++b) {
    State& s = state_[b];
    if (!s.persistent && !s.started && s.buffer >= 0 && layout_.buckets[b].data_end <= ready_numel) start(b);
  }
}

void StagedGrads::backward_end() {
  for (State& s : state_) {
    if (!s.accum.defined()) continue;
    ops::add_inplace(s.accum, s.storage.to(DType::f32));
    s.storage.zero();
  }
}

void StagedGrads::retire_oldest() {
  InFlight f = std::move(inflight_.front());
  inflight_.pop_front();
  f.work->wait();
  if (trace_) trace_->done(f.event);
  Tensor piece = shard_grads_.flat(shard_.pieces[f.bucket].shard, {shard_.pieces[f.bucket].n});
  ops::add_inplace(piece, f.out.dtype() == piece.dtype() ? f.out : f.out.to(piece.dtype()));
  if (f.buffer >= 0) free_.push_back(f.buffer);
}

void StagedGrads::finish(const std::function<void()>& before_persistent) {
  for (size_t b = 0; b < state_.size(); ++b)
    if (!state_[b].persistent && state_[b].buffer >= 0) start(b);  // a bucket no report covered
  if (before_persistent) before_persistent();
  for (size_t b = 0; b < state_.size(); ++b)
    if (state_[b].persistent) start(b);
  while (!inflight_.empty()) retire_oldest();
}

void StagedGrads::zero_grads() {
  for (State& s : state_) {
    if (s.storage.defined()) s.storage.zero();
    if (s.accum.defined()) s.accum.zero();
  }
}

int64_t StagedGrads::staging_bytes() const {
  int64_t bytes = 0;
  for (const Tensor& t : pool_) bytes += static_cast<int64_t>(t.nbytes());
  for (const State& s : state_) {
    if (s.storage.defined()) bytes += static_cast<int64_t>(s.storage.nbytes());
    if (s.accum.defined()) bytes += static_cast<int64_t>(s.accum.nbytes());
  }
  return bytes;
}

}  // namespace trident::zero
