// Stage partitioning: the layers of every (virtual) pipeline stage, an even split or
// parallel.pipeline_layers, and what each stage holds: its layer range, and the embedding (first stage) or
// the head and loss (last).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config/trident.pb.h"
#include "core/runtime/error.h"
#include "pipeline/partition.h"
#include "tests/unit/test_util.h"

namespace trident::pp {
namespace {

using test::error_of;

config::Config layout(int n_layer, int pipeline, int virtual_stages, const std::vector<int>& layers = {}) {
  config::Config c;
  c.mutable_model()->set_n_layer(n_layer);
  c.mutable_parallel()->set_pipeline(pipeline);
  c.mutable_parallel()->set_virtual_stages(virtual_stages);
  for (int n : layers) c.mutable_parallel()->add_pipeline_layers(n);
  return c;
}

// Expected stage contents, compared field by field so that a failure names the field.
void expect_chunk(const models::ChunkSpec& c, int first_layer, int num_layers, bool first, bool last) {
  EXPECT_EQ(c.first_layer, first_layer);
  EXPECT_EQ(c.num_layers, num_layers);
  EXPECT_EQ(c.first, first);
  EXPECT_EQ(c.last, last);
}

TEST(StageLayers, EvenSplit) {
  EXPECT_EQ(stage_layers(layout(8, 2, 2)), (std::vector<int>{2, 2, 2, 2})) << "pp 2 x v 2 = 4 stages";
  EXPECT_EQ(stage_layers(layout(8, 2, 1)), (std::vector<int>{4, 4}));
  EXPECT_EQ(stage_layers(layout(8, 4, 2)), (std::vector<int>(8, 1)));
  EXPECT_EQ(stage_layers(layout(4, 1, 1)), (std::vector<int>{4})) << "no pipeline: one stage holds it all";
  EXPECT_EQ(stage_layers(layout(4, 1, 0)), (std::vector<int>{4})) << "an unset virtual_stages counts as 1";
}

TEST(StageLayers, ExplicitList) {
  EXPECT_EQ(stage_layers(layout(4, 2, 1, {1, 3})), (std::vector<int>{1, 3}));
  EXPECT_EQ(stage_layers(layout(8, 2, 2, {1, 3, 3, 1})), (std::vector<int>{1, 3, 3, 1}));
  EXPECT_EQ(stage_layers(layout(6, 3, 1, {2, 2, 2})), (std::vector<int>{2, 2, 2}))
      << "a list equal to the even split";
}

TEST(StageLayers, RefusesWhatValidationRefuses) {
  EXPECT_CONTAINS(error_of([] { stage_layers(layout(4, 3, 1)); }),
                  "4 layers do not split evenly over 3 stages");
  EXPECT_CONTAINS(error_of([] {
                    stage_layers(layout(8, 2, 2, {4, 4}));
                  }),
                  "parallel.pipeline_layers lists 2 stages, not 4");
}

TEST(StageChunk, UnevenSplit) {
  const std::vector<int> layers = {1, 3};
  expect_chunk(stage_chunk(layers, 0), /*first_layer=*/0, /*num_layers=*/1, /*first=*/true, /*last=*/false);
  expect_chunk(stage_chunk(layers, 1), 1, 3, false, true);
}

TEST(StageChunk, FourStages) {
  const std::vector<int> layers = {2, 2, 2,
                                   2};  // 8 layers, pp 2 x v 2: stages 0, 2 on rank 0; 1, 3 on rank 1
  expect_chunk(stage_chunk(layers, 0), 0, 2, true, false);
  expect_chunk(stage_chunk(layers, 1), 2, 2, false, false);
  expect_chunk(stage_chunk(layers, 2), 4, 2, false, false);
  expect_chunk(stage_chunk(layers, 3), 6, 2, false, true);
}

TEST(StageChunk, OneStageHoldsEverything) {
  expect_chunk(stage_chunk({4}, 0), 0, 4, true, true);
}

TEST(StageChunk, StagesTileTheModel) {
  // Every layer in exactly one stage, in order, for an uneven list.
  const std::vector<int> layers = {3, 1, 2, 5, 1};
  int next = 0;
  for (int s = 0; s < static_cast<int>(layers.size()); ++s) {
    SCOPED_TRACE(s);
    const models::ChunkSpec c = stage_chunk(layers, s);
    EXPECT_EQ(c.first_layer, next);
    EXPECT_EQ(c.num_layers, layers[s]);
    EXPECT_EQ(c.first, s == 0);
    EXPECT_EQ(c.last, s == 4);
    next += c.num_layers;
  }
  EXPECT_EQ(next, 12);
}

TEST(StageChunk, StageOutOfRange) {
  const std::vector<int> layers = {2, 2};
  EXPECT_CONTAINS(error_of([&] { stage_chunk(layers, 2); }), "stage 2 of 2");
  EXPECT_CONTAINS(error_of([&] { stage_chunk(layers, -1); }), "stage -1 of 2");
}

}  // namespace
}  // namespace trident::pp
