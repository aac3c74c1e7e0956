#include "zero/flat_layout.h"

#include <algorithm>

#include "core/runtime/error.h"

namespace trident::zero {

FlatLayout plan_flat_layout(const ParamSet& params, const std::vector<std::pair<size_t, size_t>>& units,
                            int64_t bucket_numel, int shards) {
  TRIDENT_CHECK(bucket_numel > 0 && shards >= 1, "bucket of {} elements over {} shards", bucket_numel,
                shards);
  const auto& ps = params.params();
  FlatLayout out;
  out.shards = shards;
  out.offsets.assign(ps.size(), 0);
  const int64_t multiple = kAlign * shards;
  Bucket bucket;
  const auto close = [&] {
    bucket.data_end = out.total;
    bucket.end = (out.total + multiple - 1) / multiple * multiple;
    out.total = bucket.end;
    out.buckets.push_back(bucket);
    bucket = Bucket{out.total, out.total, out.total};
  };
  size_t covered = 0;
  out.unit_bucket.assign(units.size(), 0);
  for (size_t u = units.size(); u-- > 0;) {  // flat order: the last unit registered comes first
    out.unit_bucket[u] = out.buckets.size();
    const auto [first, last] = units[u];
    TRIDENT_CHECK(first < last && last <= ps.size(), "unit [{}, {}) of {} parameters", first, last,
                  ps.size());
    for (size_t i = last; i-- > first;) {
      out.offsets[i] = out.total;
      out.total += ps[i].value.numel();
    }
    covered += last - first;
    if (out.total - bucket.begin >= bucket_numel) close();
  }
  TRIDENT_CHECK(covered == ps.size(), "units cover {} of {} parameters", covered, ps.size());
  if (out.total > bucket.begin || out.buckets.empty()) close();
  return out;
}

std::pair<int, int> FlatLayout::bucket_units(size_t b) const {
  int first = -1, last = -1;
  for (size_t u = 0; u < unit_bucket.size(); ++u) {
    if (unit_bucket[u] != b) continue;
    if (first < 0) first = static_cast<int>(u);
    last = static_cast<int>(u);
  }
  return {first, last};
}

Shard shard_of(const FlatLayout& layout, int rank) {
  TRIDENT_CHECK(0 <= rank && rank < layout.shards, "shard {} of {}", rank, layout.shards);
  Shard out;
  for (const Bucket& b : layout.buckets) {
    const int64_t n = b.piece(layout.shards);
    out.pieces.push_back({b.begin + rank * n, n, out.numel});
    out.numel += n;
  }
  return out;
}

std::vector<Piece> Shard::intersect(int64_t flat, int64_t n) const {
  std::vector<Piece> out;
  for (const Piece& p : pieces) {
    const int64_t lo = std::max(flat, p.flat), hi = std::min(flat + n, p.flat + p.n);
    if (lo < hi) out.push_back({lo, hi - lo, p.shard + (lo - p.flat)});
  }
  return out;
}

}  // namespace trident::zero
