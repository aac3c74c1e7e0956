#include "moe/routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/runtime/error.h"

namespace trident::moe {

Routing route(const std::vector<double>& logits, int64_t tokens, const MoeSpec& spec) {
  const int E = spec.num_experts, k = spec.top_k;
  TRIDENT_CHECK(E > 0 && k >= 1 && k <= E, "routing {} experts, top {}", E, k);
  TRIDENT_CHECK(static_cast<int64_t>(logits.size()) == tokens * E, "{} logits for {} tokens x {} experts",
                logits.size(), tokens, E);
  Routing r;
  r.tokens = tokens;
  r.num_experts = E;
  r.top_k = k;
  r.probs.resize(tokens * E);
  r.lse.resize(tokens);
  r.expert.resize(tokens * k);
  r.gate.resize(tokens * k);
  r.kept.assign(tokens * k, 1);
  r.counts.assign(E, 0);
  std::vector<int32_t> order(E);
  for (int64_t t = 0; t < tokens; ++t) {
    const double* z = logits.data() + t * E;
    double* p = r.probs.data() + t * E;
    const double m = *std::max_element(z, z + E);
    double sum = 0.0;
    for (int e = 0; e < E; ++e) sum += std::exp(z[e] - m);
    r.lse[t] = m + std::log(sum);
    for (int e = 0; e < E; ++e) p[e] = std::exp(z[e] - r.lse[t]);
    // Descending probability; stable, so equal probabilities keep the lower expert index first.
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
    double chosen = 0.0;
    for (int j = 0; j < k; ++j) chosen += p[order[j]];
    for (int j = 0; j < k; ++j) {
      r.expert[t * k + j] = order[j];
      r.gate[t * k + j] = spec.normalize_topk ? p[order[j]] / chosen : p[order[j]];
      ++r.counts[order[j]];
    }
  }
  return r;
}

void apply_capacity(Routing& r, int64_t capacity, const std::vector<int64_t>& earlier) {
  if (capacity < 0) return;
  TRIDENT_CHECK(earlier.empty() || static_cast<int>(earlier.size()) == r.num_experts,
                "{} earlier counts for {} experts", earlier.size(), r.num_experts);
  std::vector<int64_t> seen = earlier.empty() ? std::vector<int64_t>(r.num_experts, 0) : earlier;
  for (int64_t s = 0; s < r.tokens * r.top_k; ++s) r.kept[s] = seen[r.expert[s]]++ < capacity ? 1 : 0;
}

void permute(Routing& r) {
  const int E = r.num_experts;
  r.expert_offset.assign(E + 1, 0);
  const int64_t slots = r.tokens * r.top_k;
  for (int64_t s = 0; s < slots; ++s)
    if (r.kept[s]) ++r.expert_offset[r.expert[s] + 1];
  for (int e = 0; e < E; ++e) r.expert_offset[e + 1] += r.expert_offset[e];
  const int64_t rows = r.expert_offset[E];
  r.token_of_row.resize(rows);
  r.slot_of_row.resize(rows);
  std::vector<int64_t> next(r.expert_offset.begin(), r.expert_offset.end() - 1);
  for (int64_t s = 0; s < slots; ++s) {
    if (!r.kept[s]) continue;
    const int64_t row = next[r.expert[s]]++;
    r.token_of_row[row] = static_cast<int32_t>(s / r.top_k);
    r.slot_of_row[row] = s;
  }
}

}  // namespace trident::moe
