#include "core/io/regions.h"

#include <algorithm>

#include "core/runtime/error.h"

namespace trident::io {

Region Region::box(Shape offsets, Shape extents) {
  Region r;
  r.end = shape_numel(extents);
  r.offsets = std::move(offsets);
  r.extents = std::move(extents);
  return r;
}

Region Region::whole(const Shape& global) {
  return box(Shape(global.size(), 0), global);
}

std::vector<LocalRegion> local_regions(const ShardSpec& spec, const Shape& global, int64_t begin,
                                       int64_t end) {
  std::vector<LocalRegion> out;
  // Each block's box and where its elements start in the local tensor.
  std::vector<std::pair<int64_t, Region>> boxes;
  if (spec.replicated()) {
    boxes.emplace_back(0, Region::whole(global));
  } else {
    const std::vector<int64_t> sizes = spec.blocks(global);
    TRIDENT_CHECK(sizes.size() == 1 || spec.dim == 0,
                  "a fused parameter of shape {} split along dim {} is not a set of contiguous boxes",
                  shape_str(global), spec.dim);
    int64_t local = 0, block_start = 0;
    for (size_t k = 0; k < sizes.size(); ++k) {
      const int rep = spec.replicas(k);
      const int64_t held = sizes[k] / (spec.parts / rep);  // rows of block k held here
      Shape offsets(global.size(), 0), extents = global;
      offsets[spec.dim] = block_start + (spec.index / rep) * held;
      extents[spec.dim] = held;
      Region r = Region::box(offsets, extents);
      const int64_t n = r.numel();
      boxes.emplace_back(local, std::move(r));
      local += n;
      block_start += sizes[k];
    }
  }
  for (auto& [start, r] : boxes) {
    const int64_t lo = std::max(begin, start), hi = std::min(end, start + r.numel());
    if (lo >= hi) continue;
    Region part = r;
    part.begin = lo - start;
    part.end = hi - start;
    out.push_back({lo, std::move(part)});
  }
  return out;
}

void for_each_overlap(const Region& want, const Region& have,
                      const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  const size_t rank = want.offsets.size();
  TRIDENT_CHECK(have.offsets.size() == rank, "regions of {} and {} dimensions", rank, have.offsets.size());
  if (rank == 0) {  // a scalar
    if (want.begin < want.end && have.begin < have.end) fn(0, 0, 1);
    return;
  }
  // The boxes' intersection [lo, hi).
  Shape lo(rank), hi(rank);
  for (size_t d = 0; d < rank; ++d) {
    lo[d] = std::max(want.offsets[d], have.offsets[d]);
    hi[d] = std::min(want.offsets[d] + want.extents[d], have.offsets[d] + have.extents[d]);
    if (lo[d] >= hi[d]) return;
  }
  // Row-major strides of each box.
  const auto strides = [&](const Shape& extents) {
    Shape s(rank, 1);
    for (size_t d = rank - 1; d > 0; --d) s[d - 1] = s[d] * extents[d];
    return s;
  };
  const Shape ws = strides(want.extents), hs = strides(have.extents);
  const int64_t run = hi[rank - 1] - lo[rank - 1];
  // Walk the intersection's rows (every index but the last dimension's) like an odometer.
  Shape at = lo;
  while (true) {
    int64_t wi = 0, hi_ = 0;
    for (size_t d = 0; d < rank; ++d) {
      wi += (at[d] - want.offsets[d]) * ws[d];
      hi_ += (at[d] - have.offsets[d]) * hs[d];
    }
    // Clip the run to both flat ranges.
    const int64_t skip = std::max<int64_t>({0, want.begin - wi, have.begin - hi_});
    const int64_t stop = std::min<int64_t>({run, want.end - wi, have.end - hi_});
    if (skip < stop) fn(wi + skip - want.begin, hi_ + skip - have.begin, stop - skip);
    size_t d = rank - 1;
    while (d > 0) {
      --d;
      if (++at[d] < hi[d]) break;
      at[d] = lo[d];
      if (d == 0) return;
    }
    if (rank == 1) return;
  }
}

}  // namespace trident::io
