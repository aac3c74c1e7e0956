// GradReducer: buckets of the flat gradient buffer start their all-reduce while backward is still running,
// in buffer order, and finish() leaves every bucket reduced.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include "core/comm/local_communicator.h"
#include "models/transformer.h"

#include "zero/flat_layout.h"
#include "zero/grad_reducer.h"

namespace trident {
namespace {

models::ModelSpec tiny_spec() {
  models::ModelSpec s;
  s.arch = models::Arch::gpt2;
  s.n_layer = 4;
  s.d_model = 16;
  s.n_head = 2;
  s.n_kv_head = 2;
  s.head_dim = 8;
  s.d_ff = 64;
  s.vocab = s.padded_vocab = 32;
  s.max_seq_len = 8;
  s.tie_embeddings = true;
  return s;
}

TEST(GradReducer, BucketsStartDuringBackwardInBufferOrder) {
  models::Transformer model(tiny_spec());
  model.params().initialize(1);
  comm::LocalCommunicator one;
  const int64_t bucket = 500;
  zero::GradReducer reducer(model.params().flat_grads(), one, bucket);
  ASSERT_EQ(reducer.num_buckets(), (model.params().numel() + bucket - 1) / bucket);

  Tensor tokens = Tensor::zeros({2, 8}, DType::i32), targets = Tensor::zeros({2, 8}, DType::i32);
  for (int64_t i = 0; i < 16; ++i) tokens.data<int32_t>()[i] = targets.data<int32_t>()[(i + 1) % 16] = i % 32;
  models::ModelActs acts;
  model.forward(acts, tokens, targets);

  std::vector<int64_t> ready;  // each report of the final prefix
  std::vector<int> started;    // buckets started after each report
  reducer.begin();
  model.backward(acts, 1.0, [&](int64_t n) {
    reducer.grads_ready(n);
    ready.push_back(n);
    started.push_back(reducer.started());
  });
  // Head, 4 blocks, embedding: six reports, each a longer final prefix, the last the whole buffer.
  ASSERT_EQ(ready.size(), 6u);
  for (size_t i = 1; i < ready.size(); ++i) EXPECT_GT(ready[i], ready[i - 1]);
  EXPECT_EQ(ready.back(), model.params().numel());
  // Overlap: buckets were already in flight before the embedding's backward (the last report).
  EXPECT_GT(started[started.size() - 2], 0);
  EXPECT_LT(started[started.size() - 2], reducer.num_buckets());
  // Exactly the buckets wholly inside each prefix were started (the last bucket ends at the buffer's end).
  for (size_t i = 0; i < ready.size(); ++i) {
    const int64_t expected = ready[i] == model.params().numel() ? reducer.num_buckets() : ready[i] / bucket;
    EXPECT_EQ(started[i], expected) << "report " << i;
  }
  reducer.finish();
  EXPECT_EQ(reducer.started(), reducer.num_buckets());
}

TEST(GradReducer, ReadyPrefixHoldsOnlyFinalGradients) {
  // After the head's report, the parameters inside the prefix are exactly the head's and the final norm's.
  models::Transformer model(tiny_spec());
  int64_t head_prefix = -1;
  Tensor tokens = Tensor::zeros({1, 4}, DType::i32), targets = Tensor::zeros({1, 4}, DType::i32);
  models::ModelActs acts;
  model.params().initialize(2);
  model.forward(acts, tokens, targets);
  model.backward(acts, 1.0, [&](int64_t n) {
    if (head_prefix < 0) head_prefix = n;
  });
  for (const Param& p : model.params().params()) {
    const bool inside = p.flat_offset + p.value.numel() <= head_prefix;
    EXPECT_EQ(inside, p.name.rfind("final_norm", 0) == 0) << p.name;
  }
}

}  // namespace
}  // namespace trident

namespace trident {
namespace {

// The flat layout the gradient path plans: whole units in reverse registration order, buckets of about the
// requested size, each padded to split into `shards` pieces of a multiple of 64 elements, values kept.
TEST(FlatLayout, BucketsHoldWholeUnitsPaddedToEqualAlignedPieces) {
  models::Transformer model(tiny_spec());  // embedding, 4 blocks, head: 6 units
  model.params().initialize(3);
  const ParamSet& ps = model.params();
  std::map<std::string, Tensor> before;
  for (const Param& p : ps.params()) before[p.name] = p.value.clone();
  ASSERT_EQ(model.units().size(), 6u);
  for (int shards : {1, 2, 3}) {
    SCOPED_TRACE(shards);
    const zero::FlatLayout l = zero::plan_flat_layout(ps, model.units(), 1500, shards);
    ASSERT_GT(l.buckets.size(), 1u);
    int64_t prev_end = 0;
    for (const zero::Bucket& b : l.buckets) {
      EXPECT_EQ(b.begin, prev_end);
      EXPECT_EQ((b.end - b.begin) % (zero::kAlign * shards), 0);
      EXPECT_LT(b.end - b.data_end, zero::kAlign * shards) << "no more padding than needed";
      prev_end = b.end;
    }
    EXPECT_EQ(l.total, prev_end);
    // Every unit lies inside one bucket, and the last registered unit (the head) comes first.
    for (const auto& [first, last] : model.units()) {
      const int64_t lo = l.offsets[last - 1], hi = l.offsets[first] + ps.params()[first].value.numel();
      int holders = 0;
      for (const zero::Bucket& b : l.buckets) holders += b.begin <= lo && hi <= b.data_end;
      EXPECT_EQ(holders, 1) << "unit [" << first << ", " << last << ")";
    }
    EXPECT_EQ(l.offsets[ps.params().size() - 1], 0);
  }
  // Laid out again, every parameter keeps its values.
  models::Transformer moved(tiny_spec());
  moved.params().initialize(3);
  const zero::FlatLayout l = zero::plan_flat_layout(moved.params(), moved.units(), 1500, 2);
  moved.params().relayout(l.offsets, l.total);
  for (size_t i = 0; i < moved.params().params().size(); ++i) {
    const Param& p = moved.params().params()[i];
    EXPECT_EQ(p.flat_offset, l.offsets[i]) << p.name;
    EXPECT_EQ(relative_l2(p.value, before.at(p.name)), 0.0) << p.name;
  }
  EXPECT_EQ(moved.params().flat_params().numel(), l.total);
}

// grad_reduce_dtype bf16 on fp32 gradients: each bucket goes through its own bf16 staging buffer, so the
// averaged gradients come back rounded to bf16 (one rank: the average is the value itself).
TEST(GradReducer, ReducesInItsOwnDtypeThroughStaging) {
  Tensor grads = Tensor::empty({200}, DType::f32);
  for (int64_t i = 0; i < 200; ++i) grads.data<float>()[i] = 1.0f + static_cast<float>(i) / 1024.0f;
  const Tensor original = grads.clone();
  comm::LocalCommunicator one;
  zero::GradReducer reducer(grads, {{0, 100, 128}, {128, 200, 200}}, one, DType::bf16);
  EXPECT_EQ(reducer.staging_bytes(), (128 + 72) * 2);
  reducer.begin();
  reducer.grads_ready(100);
  EXPECT_EQ(reducer.started(), 1) << "a bucket starts once its parameters (not its padding) are final";
  reducer.finish();
  for (int64_t i = 0; i < 200; ++i) {
    const double want = static_cast<float>(bf16(original.data<float>()[i]));
    ASSERT_EQ(grads.item(i), want) << i;
  }
  zero::GradReducer same(grads, {{0, 200, 200}}, one, DType::f32);
  EXPECT_EQ(same.staging_bytes(), 0) << "fp32 gradients reduced in fp32 need no staging";
}

}  // namespace
}  // namespace trident
