// Generation with and without the KV cache (train/generate.h, models/kv_cache.h): tiny GPT-2, LLaMA (grouped
// kv heads, RoPE) and a dropless-MoE LLaMA, trained in-process on a sentence so that their argmax is not
// degenerate, decode greedily past their context window (which moves several times); both paths must pick the
// same tokens, and every step's logits must agree. Greedy decoding ignores the temperature and seed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "models/transformer.h"
#include "tests/unit/test_util.h"
#include "train/generate.h"

namespace trident {
namespace {

const std::string kText = "the quick brown fox jumps over the lazy dog. a lazy fox sleeps. ";

// 'a'..'z' -> 1..26, ' ' -> 27, '.' -> 28; vocabulary 32.
std::vector<uint32_t> encode(const std::string& s) {
  std::vector<uint32_t> ids;
  for (char c : s) ids.push_back(c == ' ' ? 27u : c == '.' ? 28u : static_cast<uint32_t>(c - 'a' + 1));
  return ids;
}

enum class Kind { gpt2, llama, llama_moe };

models::ModelSpec tiny_spec(Kind kind) {
  models::ModelSpec s;
  s.arch = kind == Kind::gpt2 ? models::Arch::gpt2 : models::Arch::llama;
  s.n_layer = 2;
  s.d_model = 32;
  s.n_head = 4;
  s.n_kv_head = kind == Kind::gpt2 ? 4 : 2;  // LLaMA: two query heads per kv head
  s.head_dim = 8;
  s.d_ff = 64;
  s.vocab = s.padded_vocab = 32;
  s.max_seq_len = 32;
  s.tie_embeddings = kind == Kind::gpt2;
  if (kind == Kind::llama_moe) {
    s.moe.num_experts = 4;
    s.moe.top_k = 2;
    s.moe.d_ff_expert = 32;  // dropless: capacity_factor 0
  }
  return s;
}

// A few AdamW steps on windows of kText, from the seeded init. Returns the last step's loss.
double train_a_little(models::Transformer& model, int steps) {
  const std::vector<uint32_t> text = encode(kText + kText + kText);
  const int64_t B = 4, T = 16;
  ParamSet& ps = model.params();
  Tensor m = Tensor::zeros({ps.flat_numel()}), v = Tensor::zeros({ps.flat_numel()});
  double loss = 0;
  for (int step = 0; step < steps; ++step) {
    Tensor tokens = Tensor::empty({B, T}, DType::i32), targets = Tensor::empty({B, T}, DType::i32);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t at = (step * 7 + b * 17) % static_cast<int64_t>(kText.size());
      for (int64_t t = 0; t < T; ++t) {
        tokens.data<int32_t>()[b * T + t] = static_cast<int32_t>(text[at + t]);
        targets.data<int32_t>()[b * T + t] = static_cast<int32_t>(text[at + t + 1]);
      }
    }
    ps.zero_grads();
    models::ModelActs acts;
    loss = model.forward(acts, tokens, targets);
    model.backward(acts, 1.0);
    ops::adamw_step(ps.flat_params(), ps.flat_grads(), m, v, {1e-2, 0.9, 0.95, 1e-8, 0.0, step + 1});
  }
  return loss;
}

class GenerateTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    model_ = std::make_unique<models::Transformer>(tiny_spec(GetParam()));
    model_->params().initialize(7);
    const double loss = train_a_little(*model_, 60);
    ASSERT_LT(loss, 1.0) << "the tiny model should have learnt the sentence (ln 32 = 3.47 untrained)";
  }

  // Greedy decoding of 40 tokens with a window of 12: it moves (to the newest 6 tokens) every 6 tokens.
  std::vector<uint32_t> greedy(bool kv_cache, std::vector<Tensor>* logits = nullptr, double temperature = 1.0,
                               uint64_t seed = 0) {
    SampleOptions opt;
    opt.max_new_tokens = 40;
    opt.top_k = 1;
    opt.temperature = temperature;
    opt.seed = seed;
    opt.max_context = 12;
    opt.kv_cache = kv_cache;
    if (logits) opt.on_logits = [&](const Tensor& row) { logits->push_back(row.clone()); };
    return generate(*model_, encode("the q"), opt);
  }

  std::unique_ptr<models::Transformer> model_;
};

TEST_P(GenerateTest, GreedyTokensAndLogitsMatchWithAndWithoutTheCache) {
  ASSERT_TRUE(model_->supports_kv_cache());
  std::vector<Tensor> cached_logits, full_logits;
  const std::vector<uint32_t> cached = greedy(true, &cached_logits);
  const std::vector<uint32_t> full = greedy(false, &full_logits);
  EXPECT_EQ(cached, full);
  ASSERT_EQ(cached.size(), 5u + 40u);
  // The model learnt the text: greedy decoding continues the sentence rather than repeating one token.
  EXPECT_EQ(std::vector<uint32_t>(cached.begin() + 5, cached.begin() + 10), encode("uick "));
  // Every step's logits, the prefills (bitwise the same computation) and the one-token steps alike.
  ASSERT_EQ(cached_logits.size(), full_logits.size());
  for (size_t i = 0; i < cached_logits.size(); ++i)
    EXPECT_LT(relative_l2(cached_logits[i], full_logits[i]), 1e-5) << "step " << i;
}

TEST_P(GenerateTest, GreedyIgnoresTemperatureAndSeed) {
  EXPECT_EQ(greedy(true, nullptr, 0.3, 1), greedy(true, nullptr, 3.0, 99));
}

TEST_P(GenerateTest, PromptLongerThanTheWindow) {
  SampleOptions opt;
  opt.max_new_tokens = 10;
  opt.top_k = 1;
  opt.max_context = 8;
  const std::vector<uint32_t> prompt = encode("over the lazy dog. a lazy fox sle");
  opt.kv_cache = true;
  const std::vector<uint32_t> cached = generate(*model_, prompt, opt);
  opt.kv_cache = false;
  EXPECT_EQ(cached, generate(*model_, prompt, opt));
  EXPECT_EQ(cached.size(), prompt.size() + 10);
}

INSTANTIATE_TEST_SUITE_P(Models, GenerateTest, ::testing::Values(Kind::gpt2, Kind::llama, Kind::llama_moe),
                         [](const auto& info) {
                           return std::string(info.param == Kind::gpt2    ? "gpt2"
                                              : info.param == Kind::llama ? "llama"
                                                                          : "llama_moe");
                         });

// The cache's logits at every position against the full forward's rows: one prefill, then one token at a time
// up to model.max_seq_len, on the seeded init (no training needed to compare numbers).
TEST(KvCache, EveryPositionMatchesTheFullForward) {
  for (Kind kind : {Kind::gpt2, Kind::llama}) {
    models::Transformer model(tiny_spec(kind));
    model.params().initialize(3);
    const std::vector<uint32_t> text = encode(kText);
    const int64_t T = model.spec().max_seq_len, prefill = 5;
    Tensor tokens = Tensor::empty({1, T}, DType::i32);
    for (int64_t t = 0; t < T; ++t) tokens.data<int32_t>()[t] = static_cast<int32_t>(text[t]);
    models::ModelActs full;
    model.forward(full, tokens, Tensor{});
    models::KvCache cache(model.spec(), T);
    models::ModelActs acts;
    model.forward_cached(acts, tokens.view({T}).narrow0(0, prefill).view({1, prefill}), cache);
    for (int64_t t = 0; t < prefill; ++t)
      EXPECT_LT(relative_l2(model.logits_row(acts, t), model.logits_row(full, t)), 1e-5)
          << "prefill row " << t;
    for (int64_t t = prefill; t < T; ++t) {
      model.forward_cached(acts, tokens.view({T}).narrow0(t, t + 1).view({1, 1}), cache);
      EXPECT_LT(relative_l2(model.logits_row(acts, 0), model.logits_row(full, t)), 1e-5) << "position " << t;
    }
    EXPECT_EQ(cache.length(), T);
    // The cache is full: one more position is refused, by name.
    EXPECT_CONTAINS(test::error_of([&] {
                      model.forward_cached(acts, tokens.view({T}).narrow0(0, 1).view({1, 1}), cache);
                    }),
                    "past the KV cache");
  }
}

TEST(Generate, ContextLongerThanThePositionsIsRefused) {
  models::Transformer model(tiny_spec(Kind::gpt2));
  model.params().initialize(1);
  SampleOptions opt;
  opt.max_context = 64;
  EXPECT_CONTAINS(test::error_of([&] { generate(model, encode("the"), opt); }),
                  "a context of 64 tokens exceeds model.max_seq_len 32");
}

// A capacity-limited MoE routes a token depending on the others in its forward, so it decodes without the
// cache (and generate still works).
TEST(Generate, CapacityLimitedMoeFallsBackToTheFullContext) {
  models::ModelSpec spec = tiny_spec(Kind::llama_moe);
  spec.moe.capacity_factor = 1.0;
  models::Transformer model(spec);
  model.params().initialize(1);
  EXPECT_FALSE(model.supports_kv_cache());
  SampleOptions opt;
  opt.max_new_tokens = 20;
  EXPECT_FALSE(uses_kv_cache(model, opt));
  EXPECT_EQ(generate(model, encode("the"), opt).size(), 23u);
}

}  // namespace
}  // namespace trident
