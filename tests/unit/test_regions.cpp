// Checkpoint regions (core/io/regions.h): the boxes and flat ranges a parameter's shard is stored as must
// name exactly the global elements ShardSpec::global_index says the shard holds, and for_each_overlap must
// find exactly the elements two regions share (checked against brute force over every element).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/io/regions.h"

namespace trident::io {
namespace {

// The global flat index of element k of a region.
int64_t global_of(const Region& r, const Shape& global, int64_t k) {
  int64_t flat = r.begin + k, g = 0;
  Shape coord(global.size());
  for (size_t d = global.size(); d-- > 0;) {
    coord[d] = flat % r.extents[d] + r.offsets[d];
    flat /= r.extents[d];
  }
  for (size_t d = 0; d < global.size(); ++d) g = g * global[d] + coord[d];
  return g;
}

struct Case {
  const char* what;
  Shape global;
  ShardSpec spec;
};

std::vector<Case> cases() {
  std::vector<Case> out = {
      {"replicated norm", {12}, ShardSpec{}},
      {"column-parallel (dim 0)", {8, 6}, ShardSpec{0, 2, 1}},
      {"row-parallel (dim 1)", {6, 8}, ShardSpec{1, 4, 2}},
      {"stacked experts (dim 0 of 3)", {4, 3, 5}, ShardSpec{0, 2, 1}},
      {"fused gate_up", {8, 3}, ShardSpec{0, 2, 1, 2}},
  };
  // qkv with grouped-query heads: q 8 rows, k and v 2 rows each, over 4 ranks, k and v held by 2 ranks each.
  ShardSpec qkv{0, 4, 3};
  qkv.segment_sizes = {8, 2, 2};
  qkv.block_replicas = {1, 2, 2};
  out.push_back({"qkv, GQA replicas", {12, 3}, qkv});
  return out;
}

TEST(Regions, LocalRegionsNameTheElementsTheShardHolds) {
  std::mt19937 rng(7);
  for (const Case& c : cases()) {
    const int64_t n = shape_numel(c.spec.local_shape(c.global));
    for (int trial = 0; trial < 40; ++trial) {
      int64_t begin = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
      int64_t end = std::uniform_int_distribution<int64_t>(begin + 1, n)(rng);
      if (trial == 0) begin = 0, end = n;
      int64_t next = begin;
      for (const LocalRegion& lr : local_regions(c.spec, c.global, begin, end)) {
        EXPECT_EQ(lr.local, next) << c.what << ": regions are contiguous in local order";
        for (int64_t k = 0; k < lr.region.numel(); ++k)
          ASSERT_EQ(global_of(lr.region, c.global, k), c.spec.global_index(c.global, lr.local + k))
              << c.what << ", local element " << lr.local + k;
        next = lr.local + lr.region.numel();
      }
      EXPECT_EQ(next, end) << c.what << ": the regions cover [" << begin << ", " << end << ")";
    }
  }
}

TEST(Regions, OverlapFindsExactlyTheSharedElements) {
  std::mt19937 rng(11);
  const Shape global{5, 4, 6};
  const auto random_region = [&] {
    Shape off(3), ext(3);
    for (int d = 0; d < 3; ++d) {
      off[d] = std::uniform_int_distribution<int64_t>(0, global[d] - 1)(rng);
      ext[d] = std::uniform_int_distribution<int64_t>(1, global[d] - off[d])(rng);
    }
    Region r = Region::box(off, ext);
    r.begin = std::uniform_int_distribution<int64_t>(0, r.end - 1)(rng);
    r.end = std::uniform_int_distribution<int64_t>(r.begin + 1, r.end)(rng);
    return r;
  };
  for (int trial = 0; trial < 300; ++trial) {
    const Region want = random_region(), have = random_region();
    // Brute force: global index -> position in each region.
    std::map<int64_t, int64_t> in_have;
    for (int64_t k = 0; k < have.numel(); ++k) in_have[global_of(have, global, k)] = k;
    std::map<int64_t, int64_t> expected;  // want position -> have position
    for (int64_t k = 0; k < want.numel(); ++k) {
      auto it = in_have.find(global_of(want, global, k));
      if (it != in_have.end()) expected[k] = it->second;
    }
    std::map<int64_t, int64_t> found;
    for_each_overlap(want, have, [&](int64_t w, int64_t h, int64_t n) {
      for (int64_t k = 0; k < n; ++k) EXPECT_TRUE(found.emplace(w + k, h + k).second) << "visited twice";
    });
    ASSERT_EQ(found, expected) << "trial " << trial;
  }
}

}  // namespace
}  // namespace trident::io
