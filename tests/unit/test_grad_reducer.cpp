// GradReducer: buckets of the flat gradient buffer start their all-reduce while backward is still running,
// in buffer order, and finish() leaves every bucket reduced.
#include <gtest/gtest.h>

#include "core/comm/local_communicator.h"
#include "models/transformer.h"
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
