#include "core/data/sampler.h"

#include <algorithm>
#include <vector>

#include "core/runtime/error.h"
#include "core/runtime/rng.h"

namespace trident::data {

namespace {

// Counter stride between steps: a step may hold up to this many global sequences before two steps would
// share RNG counters.
constexpr int64_t kSeqsPerStepStride = 1'000'003;

void check_window_fits(const TokenShard& shard, int seq_len) {
  if (seq_len <= 0) fail("seq_len must be positive, got {}", seq_len);
  if (shard.count() <= seq_len)
    fail(
        "data shard '{}' holds {} tokens, fewer than seq_len+1 = {}; use a larger corpus or a smaller "
        "seq_len",
        shard.path(), shard.count(), static_cast<int64_t>(seq_len) + 1);
}

// Allocates `t` as CPU i32 (n, T) when undefined, otherwise checks it already is one.
void prepare_output(Tensor& t, int64_t n, int64_t T, const char* what) {
  const Shape shape{n, T};
  if (!t.defined()) {
    t = Tensor::empty(shape, DType::i32);
    return;
  }
  TRIDENT_CHECK(t.dtype() == DType::i32 && t.device().is_cpu() && t.shape() == shape,
                "sampler {} must be a CPU i32 tensor of shape {}, got {}", what, shape_str(shape), t.str());
}

// Row i of (tokens, targets) from the T + 1 tokens starting at offset_of(i).
template <typename OffsetFn>
void fill_windows(const TokenShard& shard, int seq_len, int64_t n_seqs, OffsetFn offset_of, Tensor& tokens,
                  Tensor& targets) {
  const int64_t T = seq_len;
  prepare_output(tokens, n_seqs, T, "tokens");
  prepare_output(targets, n_seqs, T, "targets");
  int32_t* x = tokens.data<int32_t>();   // (n, T)
  int32_t* y = targets.data<int32_t>();  // (n, T)
  std::vector<int32_t> window(static_cast<size_t>(T + 1));
  for (int64_t i = 0; i < n_seqs; ++i) {
    shard.read(offset_of(i), T + 1, window.data());
    std::copy_n(window.begin(), T, x + i * T);
    std::copy_n(window.begin() + 1, T, y + i * T);
  }
}

}  // namespace

TrainSampler::TrainSampler(const TokenShard& shard, int seq_len, uint64_t seed)
    : shard_(shard), seq_len_(seq_len), seed_(seed) {
  check_window_fits(shard, seq_len);
}

int64_t TrainSampler::offset(int64_t step, int64_t seq) const {
  TRIDENT_CHECK(step >= 0 && seq >= 0 && seq < kSeqsPerStepStride, "bad train sample (step {}, seq {})", step,
                seq);
  const CounterRng rng(seed_, "data.train");
  const auto span = static_cast<uint64_t>(shard_.count() - seq_len_);  // starts in [0, count - T)
  const uint64_t counter = static_cast<uint64_t>(step) * kSeqsPerStepStride + static_cast<uint64_t>(seq);
  return static_cast<int64_t>(rng.u64(counter) % span);
}

void TrainSampler::fill(int64_t step, int64_t first_seq, int64_t n_seqs, Tensor& tokens,
                        Tensor& targets) const {
  TRIDENT_CHECK(first_seq >= 0 && n_seqs >= 0 && first_seq + n_seqs <= kSeqsPerStepStride,
                "bad train slice [{}, {}) of step {}", first_seq, first_seq + n_seqs, step);
  fill_windows(
      shard_, seq_len_, n_seqs, [&](int64_t i) { return offset(step, first_seq + i); }, tokens, targets);
}

EvalSampler::EvalSampler(const TokenShard& shard, int seq_len, int64_t batch_size)
    : shard_(shard), seq_len_(seq_len), batch_size_(batch_size) {
  check_window_fits(shard, seq_len);
  if (batch_size <= 0) fail("eval batch size must be positive, got {}", batch_size);
  // Window w reads [w*T, w*T + T + 1); the last one must end at or before count.
  num_windows_ = (shard.count() - 1) / seq_len;
}

int64_t EvalSampler::offset(int64_t batch_index, int64_t seq) const {
  TRIDENT_CHECK(batch_index >= 0 && seq >= 0 && seq < batch_size_, "bad eval sample (batch {}, seq {}) of {}",
                batch_index, seq, batch_size_);
  const int64_t window = (batch_index * batch_size_ + seq) % num_windows_;
  return window * seq_len_;
}

void EvalSampler::fill(int64_t batch_index, int64_t first_seq, int64_t n_seqs, Tensor& tokens,
                       Tensor& targets) const {
  TRIDENT_CHECK(first_seq >= 0 && n_seqs >= 0 && first_seq + n_seqs <= batch_size_,
                "eval slice [{}, {}) is outside the eval batch of {}", first_seq, first_seq + n_seqs,
                batch_size_);
  fill_windows(
      shard_, seq_len_, n_seqs, [&](int64_t i) { return offset(batch_index, first_seq + i); }, tokens,
      targets);
}

}  // namespace trident::data
