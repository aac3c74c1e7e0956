// ParamSet: flat buffers in reverse registration order, shard specs, and layout-independent initialisation.
#include <gtest/gtest.h>

#include "core/tensor/param_set.h"

namespace trident {
namespace {

TEST(ParamSet, FlatBuffersRunInReverseExecutionOrder) {
  ParamSet ps;
  ps.add("first", {2, 3}, {});
  ps.add("second", {4}, {Init::zeros});
  ps.add("third", {5, 1}, {Init::ones});
  ps.finalize();
  EXPECT_EQ(ps.numel(), 6 + 4 + 5);
  EXPECT_EQ(ps.get("third").flat_offset, 0);
  EXPECT_EQ(ps.get("second").flat_offset, 5);
  EXPECT_EQ(ps.get("first").flat_offset, 9);
  // Views alias the flat buffers.
  ps.get("second").value.fill(7.0);
  EXPECT_EQ(ps.flat_params().item(5), 7.0);
  ps.get("first").grad.fill(3.0);
  EXPECT_EQ(ps.flat_grads().item(14), 3.0);
  EXPECT_TRUE(ps.get("first").weight_decay);
  EXPECT_FALSE(ps.get("second").weight_decay);
}

TEST(ParamSet, RegisteringTwiceOrAfterFinalizeFails) {
  ParamSet ps;
  ps.add("w", {2}, {});
  EXPECT_THROW(ps.add("w", {2}, {}), Error);
  ps.finalize();
  EXPECT_THROW(ps.add("v", {2}, {}), Error);
  EXPECT_THROW(ps.get("missing"), Error);
}

// The property every layout-equivalence test rests on: a shard initialised on its own holds exactly the
// elements the unsharded parameter holds at those global positions.
TEST(ParamSet, ShardedInitEqualsTheSliceOfUnshardedInit) {
  const Shape global{12, 6};
  ParamSet full;
  full.add("blocks.0.attn.qkv.weight", global, {Init::normal, 0.0, 0.02});
  full.finalize();
  full.initialize(42);
  const Tensor& ref = full.get("blocks.0.attn.qkv.weight").value;
  for (int dim : {0, 1}) {
    for (int segments : {1, 3}) {
      if (dim == 1 && segments == 3) continue;  // 6 columns are not 3 segments x 2 parts x integer
      for (int index = 0; index < 2; ++index) {
        const ShardSpec spec{dim, 2, index, segments};
        ParamSet part;
        part.add("blocks.0.attn.qkv.weight", global, {Init::normal, 0.0, 0.02}, spec);
        part.finalize();
        part.initialize(42);
        const Tensor& local = part.get("blocks.0.attn.qkv.weight").value;
        ASSERT_EQ(local.numel(), ref.numel() / 2);
        for (int64_t i = 0; i < local.numel(); ++i) {
          ASSERT_EQ(local.item(i), ref.item(spec.global_index(global, i)))
              << "dim " << dim << " segments " << segments << " index " << index << " element " << i;
        }
      }
    }
  }
}

TEST(ParamSet, SegmentedShardsTakeTheirSliceOfEveryBlock) {
  // qkv-like weight: 3 blocks of 4 rows; rank 1 of 2 holds rows 2-3 of each block.
  const ShardSpec spec{0, 2, 1, 3};
  const Shape global{12, 1};
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 6; ++i) rows.push_back(spec.global_index(global, i));
  EXPECT_EQ(rows, (std::vector<int64_t>{2, 3, 6, 7, 10, 11}));
}

TEST(ParamSet, UnequalSegmentsSplitEachBlock) {
  // Grouped-query qkv: q has 8 rows, k and v 4 each; rank 1 of 2 holds q rows 4-7, k rows 10-11, v rows
  // 14-15.
  const ShardSpec spec{0, 2, 1, 1, {8, 4, 4}};
  const Shape global{16, 1};
  EXPECT_EQ(spec.local_shape(global), (Shape{8, 1}));
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 8; ++i) rows.push_back(spec.global_index(global, i));
  EXPECT_EQ(rows, (std::vector<int64_t>{4, 5, 6, 7, 10, 11, 14, 15}));
  // A block that does not split evenly is refused.
  EXPECT_THROW(ShardSpec({0, 4, 0, 1, {8, 2, 2}}).local_shape({12, 3}), Error);
  EXPECT_THROW(ShardSpec({0, 2, 0, 1, {8, 4}}).local_shape({16, 3}), Error);
}

TEST(ParamSet, ReplicatedBlocksAreSharedByConsecutiveRanks) {
  // 4 query heads and 1 key/value head of 2 rows each over 4 ranks: each rank holds one q head, and all
  // four hold the one k and v head (block_replicas 4).
  const Shape global{12, 1};
  for (int r = 0; r < 4; ++r) {
    const ShardSpec spec{0, 4, r, 1, {8, 2, 2}, {1, 4, 4}};
    EXPECT_EQ(spec.local_shape(global), (Shape{6, 1}));
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < 6; ++i) rows.push_back(spec.global_index(global, i));
    EXPECT_EQ(rows, (std::vector<int64_t>{2 * r, 2 * r + 1, 8, 9, 10, 11})) << "rank " << r;
  }
  // 2 kv heads over 4 ranks: ranks 0-1 hold kv head 0, ranks 2-3 kv head 1.
  const ShardSpec spec{0, 4, 3, 1, {8, 4, 4}, {1, 2, 2}};
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 6; ++i) rows.push_back(spec.global_index({16, 1}, i));
  EXPECT_EQ(rows, (std::vector<int64_t>{6, 7, 10, 11, 14, 15}));
  // Replica counts must divide the parts.
  EXPECT_THROW(ShardSpec({0, 4, 0, 1, {8, 2, 2}, {1, 3, 3}}).local_shape({12, 1}), Error);
}

TEST(ParamSet, InitDependsOnSeedAndName) {
  auto value = [](uint64_t seed, const std::string& name) {
    ParamSet ps;
    ps.add(name, {8}, {Init::normal, 0.0, 1.0});
    ps.finalize();
    ps.initialize(seed);
    return ps.get(name).value.to_vector();
  };
  EXPECT_EQ(value(1, "a"), value(1, "a"));
  EXPECT_NE(value(1, "a"), value(2, "a"));
  EXPECT_NE(value(1, "a"), value(1, "b"));
  // Standard normal: the sample mean and variance of many draws.
  ParamSet big;
  big.add("w", {100000}, {Init::normal, 0.0, 1.0});
  big.finalize();
  big.initialize(7);
  double sum = 0, sq = 0;
  for (float x : big.get("w").value.to_vector()) {
    sum += x;
    sq += static_cast<double>(x) * x;
  }
  EXPECT_NEAR(sum / 1e5, 0.0, 0.01);
  EXPECT_NEAR(sq / 1e5, 1.0, 0.02);
}

}  // namespace
}  // namespace trident
