// Hugging Face interop (train/hf_convert.h) against fixtures written by real transformers
// (tools/reference/make_hf_fixture.py; committed, so the test needs no Python): an imported GPT2LMHeadModel
// and LlamaForCausalLM compute transformers' logits, export and import are exact inverses, the imported
// weights start a ParallelModel through train.init_weights, and what either side cannot express is refused by
// name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/comm/local_communicator.h"
#include "core/config/config.h"
#include "core/io/safetensors.h"
#include "tests/unit/test_util.h"
#include "train/hf_config.h"
#include "train/hf_convert.h"
#include "train/init_weights.h"
#include "train/model_logits.h"
#include "train/parallel_model.h"

namespace trident {
namespace {
using test::error_of;

const std::string kFixtures = std::string(TRIDENT_SOURCE_DIR) + "/tests/hf/";
const std::string kScratch = std::string(TRIDENT_BINARY_DIR) + "/testdata/hf/";

config::Config tiny(const std::string& arch) {
  return load_config(std::string(TRIDENT_SOURCE_DIR) + "/configs/" + arch + "_tiny.pbtxt");
}

// The fixture model as `import hf` reads it.
TridentWeights imported(const std::string& arch) {
  return from_hf(read_hf_dir(kFixtures + arch), tiny(arch));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Every tensor of `want` in `got`, bit for bit, and nothing else.
void expect_same_tensors(const std::map<std::string, Tensor>& got,
                         const std::map<std::string, Tensor>& want) {
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [name, t] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << "missing " << name;
      continue;
    }
    EXPECT_TRUE(same_bits(it->second, t)) << name << ": " << it->second.str() << " vs " << t.str();
  }
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(a.item(i) - b.item(i)));
  return d;
}

class HfFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(HfFixture, ImportedModelComputesTransformersLogits) {
  const std::string arch = GetParam();
  const TridentWeights w = imported(arch);
  EXPECT_EQ(w.config.model().arch(), arch);
  EXPECT_EQ(w.config.model().vocab_size(), 260);
  // Padded as the tiny config pads (to a multiple of 64), the padding rows zero.
  const Tensor& wte = w.tensors.at("embed.wte");
  ASSERT_EQ(wte.dim(0), 320);
  for (int64_t i = 260 * wte.dim(1); i < wte.numel(); ++i)
    ASSERT_EQ(wte.item(i), 0.0) << "padding element " << i;

  const io::TensorFile ref = io::load_safetensors(kFixtures + arch + "_logits.safetensors");
  const Tensor logits = model_logits(w.config, w.tensors, ref.tensors.at("input.tokens"));
  // Transformers' fp32 logits, and its float64 run of the same weights (the fixture's fp32 logits lie 8e-7
  // from those).
  const double diff = max_abs_diff(logits, ref.tensors.at("out.logits"));
  const double diff64 = max_abs_diff(logits, ref.tensors.at("out.logits_f64"));
  EXPECT_LE(diff, 1e-5) << "max abs difference from transformers' fp32 logits";
  EXPECT_LE(diff64, 1e-5) << "max abs difference from transformers' float64 logits";
  std::printf("%s: max abs difference from transformers' logits: %.2e (fp32), %.2e (float64)\n", arch.c_str(),
              diff, diff64);
}

TEST_P(HfFixture, ExportOfTheImportIsTheFixtureBitForBit) {
  const std::string arch = GetParam();
  const HfModel fixture = read_hf_dir(kFixtures + arch);
  const TridentWeights w = from_hf(fixture, tiny(arch));
  const HfModel back = to_hf(w.config, w.tensors);
  expect_same_tensors(back.tensors, fixture.tensors);
  for (const char* key : {"vocab_size", "tie_word_embeddings", "num_key_value_heads", "intermediate_size",
                          "rms_norm_eps", "layer_norm_epsilon", "n_positions", "max_position_embeddings"}) {
    if (fixture.config.contains(key)) {
      EXPECT_EQ(back.config.at(key), fixture.config.at(key)) << key;
    }
  }
  if (arch == "llama") {
    EXPECT_EQ(back.config["rope_parameters"]["rope_theta"], fixture.config["rope_parameters"]["rope_theta"]);
  }

  // ... and through the files: write, read, import again.
  write_hf_dir(back, kScratch + arch + "_export");
  const TridentWeights again = from_hf(read_hf_dir(kScratch + arch + "_export"), tiny(arch));
  expect_same_tensors(again.tensors, w.tensors);
  EXPECT_EQ(again.config.model().SerializeAsString(), w.config.model().SerializeAsString());
}

// Trident's own seeded weights out and back: every real row bit for bit, the padding rows zero.
TEST_P(HfFixture, TridentWeightsSurviveExportAndImport) {
  config::Config cfg = tiny(GetParam());
  resolve(cfg);
  comm::LocalCommunicator one;
  ParallelModel model(cfg, one);
  const std::map<std::string, Tensor> global = model.gather_to_main();
  const TridentWeights back = from_hf(to_hf(cfg, global), cfg);
  ASSERT_EQ(back.tensors.size(), global.size());
  const int64_t V = cfg.model().vocab_size();
  for (const auto& [name, t] : global) {
    const Tensor& b = back.tensors.at(name);
    ASSERT_EQ(b.shape(), t.shape()) << name;
    const bool vocab = name == "embed.wte" || name == "head.weight";
    const int64_t real = vocab ? V * t.dim(1) : t.numel();
    EXPECT_EQ(std::memcmp(b.raw(), t.raw(), real * sizeof(float)), 0) << name;
    for (int64_t i = real; i < t.numel(); ++i) ASSERT_EQ(b.item(i), 0.0) << name << " padding element " << i;
  }
  EXPECT_EQ(back.config.model().SerializeAsString(), cfg.model().SerializeAsString());
}

// train.init_weights: a ParallelModel built from the imported config starts from the imported weights, the
// fp32 values exactly, and a file padded for another tensor-parallel size fits after refitting its rows.
TEST_P(HfFixture, InitWeightsStartTheModel) {
  const std::string arch = GetParam();
  TridentWeights w = imported(arch);
  const std::string path = kScratch + arch + "_init.safetensors";
  std::filesystem::create_directories(kScratch);
  io::save_safetensors(path, w.tensors);
  w.config.mutable_train()->set_init_weights(path);
  comm::LocalCommunicator one;
  ParallelModel model(w.config, one);
  EXPECT_FALSE(same_bits(model.gather_to_main().at("embed.wte"), w.tensors.at("embed.wte")));
  load_init_weights(model, w.config, one);
  expect_same_tensors(model.gather_to_main(), w.tensors);

  config::Config unpadded = w.config;
  unpadded.mutable_model()->set_vocab_pad_multiple(1);  // 260 rows where the file has 320
  ParallelModel small(unpadded, one);
  load_init_weights(small, unpadded, one);
  const std::map<std::string, Tensor> got = small.gather_to_main();
  EXPECT_EQ(got.at("embed.wte").dim(0), 260);
  EXPECT_TRUE(same_bits(got.at("embed.wte"), w.tensors.at("embed.wte").narrow0(0, 260).clone()));
}

INSTANTIATE_TEST_SUITE_P(Models, HfFixture, ::testing::Values("gpt2", "llama"));

TEST(HfRefusals, WhatHuggingFaceCannotExpress) {
  config::Config moe = load_config(std::string(TRIDENT_SOURCE_DIR) + "/configs/moe_tiny.pbtxt");
  EXPECT_EQ(error_of([&] { to_hf(moe, {}); }),
            "export hf does not support mixture-of-experts models yet (model.moe.num_experts is 8)");
  config::Config gqa = tiny("gpt2");
  gqa.mutable_model()->set_n_kv_head(2);
  EXPECT_NE(error_of([&] { to_hf(gqa, {}); }).find("Hugging Face's GPT-2 has no grouped-query attention"),
            std::string::npos);

  // A tensor the model does not have, or one it lacks.
  TridentWeights w = imported("llama");
  std::map<std::string, Tensor> extra = w.tensors;
  extra["blocks.0.attn.qkv.bias"] = Tensor::zeros({64});
  EXPECT_NE(error_of([&] { to_hf(w.config, extra); })
                .find("'blocks.0.attn.qkv.bias', which has no place in "
                      "LlamaForCausalLM"),
            std::string::npos);
  std::map<std::string, Tensor> lacking = w.tensors;
  lacking.erase("final_norm.weight");
  EXPECT_NE(error_of([&] { to_hf(w.config, lacking); }).find("no tensor 'final_norm.weight'"),
            std::string::npos);
}

TEST(HfRefusals, WhatTridentCannotExpress) {
  const HfModel llama = read_hf_dir(kFixtures + "llama");
  const HfModel gpt2 = read_hf_dir(kFixtures + "gpt2");
  const auto refusal = [](HfModel m, const std::string& key, const nlohmann::json& value) {
    m.config[key] = value;
    const std::string arch = m.config["model_type"];
    return error_of([&] { from_hf(m, tiny(arch)); });
  };
  const auto has = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
  };
  EXPECT_TRUE(has(refusal(llama, "rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}),
                  "rope_scaling {\"factor\":2.0,\"rope_type\":\"linear\"} is not supported"));
  EXPECT_TRUE(has(refusal(llama, "rope_parameters", {{"rope_type", "yarn"}, {"rope_theta", 500.0}}),
                  "rope_type 'yarn' is not supported"));
  EXPECT_TRUE(has(refusal(llama, "attention_bias", true), "attention_bias is not supported"));
  EXPECT_TRUE(has(refusal(llama, "mlp_bias", true), "mlp_bias is not supported"));
  EXPECT_TRUE(has(refusal(llama, "hidden_act", "gelu"), "hidden_act 'gelu' is not supported"));
  EXPECT_TRUE(has(refusal(llama, "head_dim", 16), "head_dim 16 is not supported"));
  EXPECT_TRUE(has(refusal(llama, "architectures", nlohmann::json::array({"MistralForCausalLM"})),
                  "architecture MistralForCausalLM"));
  EXPECT_TRUE(
      has(refusal(gpt2, "activation_function", "relu"), "activation_function 'relu' is not supported"));
  EXPECT_TRUE(has(refusal(gpt2, "scale_attn_by_inverse_layer_idx", true), "scale_attn_by_inverse_layer_idx"));
  EXPECT_TRUE(
      has(refusal(gpt2, "n_layer", "two"), "'n_layer' should be a non-negative integer, not \"two\""));
  EXPECT_TRUE(
      has(refusal(gpt2, "n_head", 5), "cannot train as configured"));  // 32 does not split into 5 heads
  // The config and the weights disagree: an untied head the weights lack, a tied one stored different.
  EXPECT_TRUE(has(refusal(gpt2, "tie_word_embeddings", false), "no tensor 'lm_head.weight'"));
  HfModel tied = llama;
  tied.config["tie_word_embeddings"] = true;
  EXPECT_TRUE(has(error_of([&] { from_hf(tied, tiny("llama")); }),
                  "lm_head.weight differs from the token embedding"));
  HfModel biased = llama;
  biased.tensors["model.layers.0.self_attn.q_proj.bias"] = Tensor::zeros({32});
  EXPECT_TRUE(
      has(error_of([&] { from_hf(biased, tiny("llama")); }),
          "holds 'model.layers.0.self_attn.q_proj.bias', which Trident's LlamaForCausalLM has no place for"));
}

TEST(HfRefusals, ShardedAndMissingFiles) {
  const std::string dir = kScratch + "sharded";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kFixtures + "llama/config.json", dir + "/config.json");
  EXPECT_NE(error_of([&] { read_hf_dir(dir); }).find("has no model.safetensors"), std::string::npos);
  std::ofstream(dir + "/model.safetensors.index.json") << "{}";
  EXPECT_NE(error_of([&] { read_hf_dir(dir); }).find("sharded checkpoint (model.safetensors.index.json)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_hf_dir(kScratch + "nowhere"); }).find("is not a directory"),
            std::string::npos);
}

}  // namespace
}  // namespace trident
