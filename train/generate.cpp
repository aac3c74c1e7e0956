#include "train/generate.h"

#include <algorithm>
#include <cmath>

#include "core/runtime/rng.h"

namespace trident {

namespace {

// Picks an id from logits (V) with temperature and top-k; u is uniform in (0, 1).
uint32_t sample_logits(const Tensor& row, int64_t vocab, double temperature, int64_t top_k, double u) {
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

}  // namespace

std::vector<uint32_t> generate(models::Transformer& model, const std::vector<uint32_t>& prompt,
                               const SampleOptions& opt) {
  TRIDENT_CHECK(opt.temperature > 0, "temperature must be positive, got {}", opt.temperature);
  std::vector<uint32_t> seq = prompt;
  if (seq.empty()) seq.push_back(0);
  const auto& spec = model.spec();
  const CounterRng rng(opt.seed, "sample");
  models::ModelActs acts;
  for (int64_t i = 0; i < opt.max_new_tokens; ++i) {
    const int64_t T = std::min<int64_t>(static_cast<int64_t>(seq.size()), spec.max_seq_len);
    Tensor tokens = Tensor::empty({1, T}, DType::i32);
    for (int64_t t = 0; t < T; ++t) tokens.data<int32_t>()[t] = static_cast<int32_t>(seq[seq.size() - T + t]);
    model.forward(acts, tokens, Tensor{});
    const Tensor last = model.logits_row(acts, T - 1).to(Device::cpu());  // one copy, then read on the host
    const uint32_t next = sample_logits(last, spec.vocab, opt.temperature, opt.top_k, rng.uniform(i));
    seq.push_back(next);
    if (opt.stop_token >= 0 && next == opt.stop_token) break;
  }
  return seq;
}

}  // namespace trident
