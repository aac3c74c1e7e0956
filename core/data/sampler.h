#pragma once
// Batch sampling that does not depend on the parallel layout. The global batch at step s is G windows of
// T + 1 tokens; window `seq` in [0, G) starts at a position that is a pure function of (seed, step, seq), so
// a data-parallel rank r that owns sequences [r*G/dp, (r+1)*G/dp) reads exactly the rows the single-rank run
// reads, and a resumed run reads exactly what the uninterrupted run would have read.
//
// Both samplers keep a reference to the shard: the shard must outlive them.
#include <cstdint>

#include "core/data/shard.h"
#include "core/tensor/tensor.h"

namespace trident::data {

// Fills inputs/targets (n, T) from n windows of T + 1 tokens: targets are the inputs shifted left by one.
// `tokens` and `targets` are allocated as CPU i32 (n, T) when undefined; a defined tensor must already be a
// CPU i32 tensor of that shape, and is overwritten in place.
class TrainSampler {
 public:
  TrainSampler(const TokenShard& shard, int seq_len, uint64_t seed);

  int seq_len() const { return seq_len_; }

  // Start of global sequence `seq` of step `step`: uniform over [0, count - seq_len), independent of G.
  int64_t offset(int64_t step, int64_t seq) const;

  // Global sequences [first_seq, first_seq + n_seqs) of step `step`.
  void fill(int64_t step, int64_t first_seq, int64_t n_seqs, Tensor& tokens, Tensor& targets) const;

 private:
  const TokenShard& shard_;
  int seq_len_;
  uint64_t seed_;
};

// Evaluation reads the shard in order, in non-overlapping windows of T inputs (each window's last target is
// the next window's first input): window w starts at (w mod num_windows()) * T. Evaluation batch e of B
// sequences is windows [e*B, (e+1)*B); fill(e, first_seq, n) gives sequences [first_seq, first_seq + n) of
// that batch, so data-parallel ranks split an eval batch the same way they split a train batch. Batches past
// the end of the shard wrap around to the start; num_batches() is how many batches cover the shard once.
class EvalSampler {
 public:
  EvalSampler(const TokenShard& shard, int seq_len, int64_t batch_size);

  int seq_len() const { return seq_len_; }
  int64_t batch_size() const { return batch_size_; }
  int64_t num_windows() const { return num_windows_; }
  // ceil(num_windows / batch_size): batches [0, num_batches()) see every window at least once.
  int64_t num_batches() const { return (num_windows_ + batch_size_ - 1) / batch_size_; }

  int64_t offset(int64_t batch_index, int64_t seq) const;
  void fill(int64_t batch_index, int64_t first_seq, int64_t n_seqs, Tensor& tokens, Tensor& targets) const;

 private:
  const TokenShard& shard_;
  int seq_len_;
  int64_t batch_size_;
  int64_t num_windows_;
};

}  // namespace trident::data
