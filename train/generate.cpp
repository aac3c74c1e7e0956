#include "train/generate.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/runtime/rng.h"
#include "core/runtime/threads.h"
#include "models/kv_cache.h"

namespace trident {

namespace {

// The most likely id among the first `vocab` logits (V); the lowest id on a tie, as torch.argmax.
uint32_t argmax(const Tensor& row, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (row.item(i) > row.item(best)) best = i;
  return static_cast<uint32_t>(best);
}

// Picks an id from logits (V) with temperature and top-k; u is uniform in (0, 1).
uint32_t sample_logits(const Tensor& row, int64_t vocab, double temperature, int64_t top_k, double u) {
  if (top_k == 1) return argmax(row, vocab);
  std::vector<std::pair<double, uint32_t>> cand(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) cand[i] = {row.item(i) / temperature, static_cast<uint32_t>(i)};
  if (top_k > 0 && top_k < vocab) {
    std::partial_sort(cand.begin(), cand.begin() + top_k, cand.end(), std::greater<>());
    cand.resize(static_cast<size_t>(top_k));
  }
  double mx = -INFINITY;
  for (auto& c : cand) mx = std::max(mx, c.first);
  double sum = 0.0;
  for (auto& c : cand) sum += (c.first = std::exp(c.first - mx));
  double acc = 0.0;
  for (auto& c : cand) {
    acc += c.first / sum;
    if (u < acc) return c.second;
  }
  return cand.back().second;
}

// The window's first token once the sequence holds `length` tokens: where it was, or, when the window would
// hold more than W tokens, the newest ceil(W/2) (generate.h says why half).
size_t window_start(size_t start, size_t length, size_t W) {
  return length - start > W ? length - (W + 1) / 2 : start;
}

// seq[begin, end) as tokens (1, T).
Tensor context_tokens(const std::vector<uint32_t>& seq, size_t begin, size_t end) {
  const auto T = static_cast<int64_t>(end - begin);
  Tensor tokens = Tensor::empty({1, T}, DType::i32);
  for (int64_t t = 0; t < T; ++t) tokens.data<int32_t>()[t] = static_cast<int32_t>(seq[begin + t]);
  return tokens;
}

// The logits (Vp) of the token after the window seq[start, end), the whole window through the model.
Tensor window_logits(models::Transformer& model, models::ModelActs& acts, const std::vector<uint32_t>& seq,
                     size_t start) {
  const Tensor tokens = context_tokens(seq, start, seq.size());
  model.forward(acts, tokens, Tensor{});
  return model.logits_row(acts, tokens.dim(1) - 1);
}

// The same with the cache, which holds the window but its newest token: that token alone runs. A window that
// moved is prefilled whole into the emptied cache.
Tensor cached_logits(models::Transformer& model, models::ModelActs& acts, models::KvCache& cache,
                     const std::vector<uint32_t>& seq, size_t start, bool moved) {
  if (moved) cache.clear();
  const size_t begin = moved ? start : seq.size() - 1;
  TRIDENT_CHECK(static_cast<int64_t>(begin - start) == cache.length(),
                "the KV cache holds {} positions of a window that has {} before its newest token",
                cache.length(), begin - start);
  const Tensor tokens = context_tokens(seq, begin, seq.size());
  model.forward_cached(acts, tokens, cache);
  return model.logits_row(acts, tokens.dim(1) - 1);
}

}  // namespace

bool uses_kv_cache(const models::Transformer& model, const SampleOptions& opt) {
  return opt.kv_cache && model.supports_kv_cache();
}

std::vector<uint32_t> generate(models::Transformer& model, const std::vector<uint32_t>& prompt,
                               const SampleOptions& opt) {
  TRIDENT_CHECK(opt.top_k == 1 || opt.temperature > 0, "temperature must be positive, got {}",
                opt.temperature);
  const auto& spec = model.spec();
  const int64_t W = opt.max_context > 0 ? opt.max_context : spec.max_seq_len;
  if (W > spec.max_seq_len)
    fail("a context of {} tokens exceeds model.max_seq_len {}: the model has no positions past it", W,
         spec.max_seq_len);
  std::vector<uint32_t> seq = prompt;
  if (seq.empty()) seq.push_back(0);
  std::optional<models::KvCache> cache;
  // Decoding runs on one CPU thread: one position's matrix-vector products are too small to share (OpenBLAS
  // splits a GEMV from about 10k elements on, and the team's barrier costs more than the product, many times
  // more on a busy machine). Switching the count per step costs more still, so the prefills run on it too.
  std::optional<ScopedCpuThreads> one_thread;
  if (uses_kv_cache(model, opt)) {
    cache.emplace(spec, W);
    one_thread.emplace(1);
  }
  const CounterRng rng(opt.seed, "sample");
  models::ModelActs acts;
  size_t start = seq.size() > static_cast<size_t>(W) ? seq.size() - W : 0;
  bool moved = true;  // the first step fills the cache
  for (int64_t i = 0; i < opt.max_new_tokens; ++i) {
    const size_t next_start = window_start(start, seq.size(), static_cast<size_t>(W));
    moved = moved || next_start != start;
    start = next_start;
    const Tensor logits = cache ? cached_logits(model, acts, *cache, seq, start, moved)
                                : window_logits(model, acts, seq, start);
    moved = false;
    const Tensor last = logits.to(Device::cpu());  // one copy, then read on the host
    if (opt.on_logits) opt.on_logits(last);
    const uint32_t next = sample_logits(last, spec.vocab, opt.temperature, opt.top_k, rng.uniform(i));
    seq.push_back(next);
    if (opt.stop_token >= 0 && next == opt.stop_token) break;
  }
  return seq;
}

}  // namespace trident
