// Config: loading (text and JSON) over the defaults, --set overrides, derived values, validation, hashing.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/comm/bootstrap.h"
#include "core/config/config.h"
#include "core/runtime/devices.h"
#include "core/runtime/error.h"
#include "models/model_spec.h"
#include "tests/unit/test_util.h"
#include "train/validate.h"

namespace trident {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::MessageDifferencer;

const std::string kConfigs = std::string(TRIDENT_SOURCE_DIR) + "/configs/";

using test::error_of;

std::string problems_text(const config::Config& c, int world_size = 1) {
  std::string all;
  for (const std::string& p : validation_problems(c, world_size)) all += p + "\n";
  return all;
}

// A config that validates, to break one field at a time.
config::Config good_config() {
  return load_config(kConfigs + "gpt2_tiny.pbtxt");
}

// A fresh directory per test for the files it writes, removed afterwards.
class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("trident_config_" + std::to_string(getpid()) + "_" +
                                        info->test_suite_name() + "_" + info->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  fs::path dir_;
};

// ---- shipped configs ----

TEST(ConfigShipped, EveryConfigParsesAndResolves) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".pbtxt") continue;
    SCOPED_TRACE(entry.path().string());
    config::Config c;
    ASSERT_NO_THROW(c = load_config(entry.path().string()));
    resolve(c);
    EXPECT_GT(c.model().n_layer(), 0);
    EXPECT_EQ(c.model().n_layer() % 4, 0) << "keep layer counts divisible by 4";
    EXPECT_GT(c.model().n_kv_head(), 0);
    EXPECT_GT(c.model().d_ff(), 0);
    // Structurally sound everywhere; the GPU configs may only be refused for wanting CUDA.
    for (const std::string& problem : validation_problems(c)) EXPECT_CONTAINS(problem, "CUDA backend");
    ++count;
  }
  EXPECT_GE(count, 4);
}

TEST(ConfigShipped, TinyConfigsValidateOnCpu) {
  for (const char* name : {"gpt2_tiny.pbtxt", "llama_tiny.pbtxt", "moe_tiny.pbtxt", "llama_moe_tiny.pbtxt"}) {
    SCOPED_TRACE(name);
    config::Config c = load_config(kConfigs + name);
    EXPECT_NO_THROW(validate(c));
    resolve(c);
    EXPECT_EQ(c.train().seq_len(), 128);
    EXPECT_EQ(c.train().global_batch_size(), 16);
    EXPECT_EQ(padded_vocab(c.model()), 320);
    EXPECT_EQ(padded_vocab(c.model(), 2), 320) << "tp dividing the pad multiple keeps checkpoint shapes";
    EXPECT_EQ(padded_vocab(c.model(), 8), 320);
    EXPECT_EQ(head_dim(c.model()), 32);
    EXPECT_EQ(c.runtime().device(), "cpu");
  }
  config::Config llama = load_config(kConfigs + "llama_tiny.pbtxt");
  EXPECT_EQ(llama.model().arch(), "llama");
  EXPECT_EQ(llama.model().n_kv_head(), 2);
  EXPECT_FALSE(llama.model().tie_embeddings());
  EXPECT_TRUE(good_config().model().tie_embeddings());
  config::Config moe = load_config(kConfigs + "moe_tiny.pbtxt");
  EXPECT_EQ(moe.model().moe().num_experts(), 8);
  EXPECT_EQ(moe.model().moe().top_k(), 2);
  EXPECT_EQ(moe.model().moe().every(), 2);
  config::Config llama_moe = load_config(kConfigs + "llama_moe_tiny.pbtxt");
  EXPECT_EQ(llama_moe.model().moe().shared_experts(), 1);
  EXPECT_TRUE(llama_moe.model().moe().normalize_topk());
}

TEST(ConfigShipped, GpuConfigsParseAndResolve) {
  config::Config gpt2 = load_config(kConfigs + "gpt2_124m.pbtxt");
  resolve(gpt2);
  EXPECT_EQ(padded_vocab(gpt2.model()), 50304);
  EXPECT_EQ(head_dim(gpt2.model()), 64);
  EXPECT_EQ(gpt2.model().d_ff(), 3072);
  EXPECT_EQ(gpt2.train().precision(), "bf16");
  EXPECT_FLOAT_EQ(gpt2.optim().min_lr(), 6e-5f);
  EXPECT_EQ(int64_t{gpt2.train().global_batch_size()} * gpt2.train().seq_len(), 524288);

  config::Config llama = load_config(kConfigs + "llama_1b.pbtxt");
  resolve(llama);
  EXPECT_EQ(llama.model().n_kv_head(), 8);
  EXPECT_EQ(llama.model().d_ff(), 8192);
  EXPECT_EQ(padded_vocab(llama.model()), 128256);
  EXPECT_FLOAT_EQ(llama.model().rope_theta(), 500000.0f);
  EXPECT_EQ(llama.train().seq_len(), 2048);
  // Valid for a world of 8 ranks too, apart from the backend.
  for (const std::string& problem : validation_problems(llama, 8)) EXPECT_CONTAINS(problem, "CUDA backend");
}

// ---- defaults ----

TEST(ConfigDefaults, DocumentedValues) {
  config::Config c = default_config();
  EXPECT_EQ(c.model().arch(), "gpt2");
  EXPECT_FLOAT_EQ(c.model().norm_eps(), 1e-5f);
  EXPECT_FLOAT_EQ(c.model().rope_theta(), 10000.0f);
  EXPECT_FLOAT_EQ(c.model().init_std(), 0.02f);
  EXPECT_EQ(c.model().vocab_pad_multiple(), 1);
  const config::MoeConfig& moe = c.model().moe();
  EXPECT_EQ(moe.num_experts(), 0) << "dense unless asked";
  EXPECT_EQ(moe.top_k(), 2);
  EXPECT_EQ(moe.every(), 1);
  EXPECT_EQ(moe.capacity_factor(), 0.0f) << "dropless";
  EXPECT_FLOAT_EQ(moe.aux_loss_coeff(), 1e-2f);
  EXPECT_FLOAT_EQ(moe.z_loss_coeff(), 1e-3f);
  EXPECT_EQ(moe.shared_experts(), 0);
  EXPECT_FALSE(moe.normalize_topk());
  EXPECT_EQ(c.parallel().data(), 0);
  EXPECT_EQ(c.parallel().tensor(), 1);
  EXPECT_EQ(c.parallel().pipeline(), 1);
  EXPECT_EQ(c.parallel().expert(), 1);
  EXPECT_EQ(c.parallel().zero_stage(), 0);
  EXPECT_FALSE(c.parallel().sequence_parallel());
  EXPECT_EQ(c.parallel().order(), "tp-cp-ep-dp-pp");
  EXPECT_EQ(c.parallel().virtual_stages(), 1);
  EXPECT_EQ(c.parallel().pipeline_layers_size(), 0) << "empty: an even split";
  EXPECT_EQ(c.train().schedule(), "1f1b");
  EXPECT_EQ(c.train().precision(), "fp32");
  EXPECT_EQ(c.train().seed(), 1337u);
  EXPECT_EQ(c.train().log_interval(), 10);
  EXPECT_EQ(c.train().eval_steps(), 10);
  EXPECT_EQ(c.train().micro_batch_size(), 1);
  EXPECT_FLOAT_EQ(c.train().sample_temperature(), 1.0f);
  EXPECT_EQ(c.train().sample_top_k(), 0);
  EXPECT_FLOAT_EQ(c.optim().lr(), 3e-4f);
  EXPECT_FLOAT_EQ(c.optim().min_lr(), kMinLrFromLr);
  EXPECT_EQ(c.optim().warmup_steps(), 0);
  EXPECT_FLOAT_EQ(c.optim().weight_decay(), 0.1f);
  EXPECT_FLOAT_EQ(c.optim().beta1(), 0.9f);
  EXPECT_FLOAT_EQ(c.optim().beta2(), 0.95f);
  EXPECT_FLOAT_EQ(c.optim().eps(), 1e-8f);
  EXPECT_FLOAT_EQ(c.optim().grad_clip(), 1.0f);
  EXPECT_EQ(c.data().tokenizer(), "byte");
  EXPECT_EQ(c.runtime().device(), "auto");
  EXPECT_EQ(c.runtime().threads(), 0);
}

TEST_F(ConfigFiles, DefaultsFillWhatTheFileLeavesOut) {
  config::Config c = load_config(write("small.pbtxt", R"(
    model { n_layer: 2 d_model: 64 n_head: 2 vocab_size: 257 max_seq_len: 32 }
    train { steps: 5 }
    data { train_path: "t.bin" }
  )"));
  EXPECT_EQ(c.model().n_layer(), 2);
  EXPECT_EQ(c.model().arch(), "gpt2");
  EXPECT_FLOAT_EQ(c.optim().weight_decay(), 0.1f);
  EXPECT_FLOAT_EQ(c.optim().beta2(), 0.95f);
  EXPECT_EQ(c.train().seed(), 1337u);
  EXPECT_EQ(c.runtime().device(), "auto");
  EXPECT_EQ(c.parallel().order(), "tp-cp-ep-dp-pp");
  EXPECT_NO_THROW(validate(c)) << "a minimal file plus the defaults is a valid run";
}

TEST_F(ConfigFiles, ExplicitZeroInTextOverridesDefault) {
  config::Config c = load_config(write("zeros.pbtxt", R"(
    train { seed: 0 log_interval: 0 }
    optim { weight_decay: 0 grad_clip: 0.0 min_lr: 0 beta1: 0 }
    parallel { tensor: 0 order: "" }
    runtime { device: "" }
  )"));
  EXPECT_EQ(c.train().seed(), 0u);
  EXPECT_EQ(c.train().log_interval(), 0);
  EXPECT_EQ(c.optim().weight_decay(), 0.0f);
  EXPECT_EQ(c.optim().grad_clip(), 0.0f);
  EXPECT_EQ(c.optim().min_lr(), 0.0f);
  EXPECT_EQ(c.optim().beta1(), 0.0f);
  EXPECT_EQ(c.parallel().tensor(), 0);
  EXPECT_EQ(c.parallel().order(), "");
  EXPECT_EQ(c.runtime().device(), "");
  EXPECT_FLOAT_EQ(c.optim().beta2(), 0.95f);  // untouched fields keep their defaults
  resolve(c);
  EXPECT_EQ(c.optim().min_lr(), 0.0f) << "an explicit min_lr 0 is not the 'lr / 10' sentinel";
}

// ---- loading ----

TEST_F(ConfigFiles, JsonMatchesText) {
  std::string text = R"(
    model { arch: "llama" n_layer: 2 d_model: 64 n_head: 4 n_kv_head: 2 vocab_size: 300 max_seq_len: 64
            tie_embeddings: true norm_eps: 1e-6 }
    train { steps: 7 seq_len: 32 seed: 0 sample_prompt: "Hi \"you\"" }
    optim { lr: 0.002 weight_decay: 0 }
    data { train_path: "a.bin" }
  )";
  std::string json = R"({
    "model": {"arch": "llama", "n_layer": 2, "d_model": 64, "nHead": 4, "n_kv_head": 2, "vocab_size": 300,
              "max_seq_len": 64, "tie_embeddings": true, "norm_eps": 1e-6},
    "train": {"steps": 7, "seq_len": "32", "seed": 0, "sample_prompt": "Hi \"you\""},
    "optim": {"lr": 0.002, "weight_decay": 0},
    "data": {"train_path": "a.bin"}
  })";
  config::Config from_text = load_config(write("c.pbtxt", text));
  config::Config from_json = load_config(write("c.json", json));
  std::string diff;
  MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(from_text, from_json)) << diff;
  EXPECT_EQ(from_json.optim().weight_decay(), 0.0f);
  EXPECT_EQ(from_json.train().seed(), 0u);
  EXPECT_EQ(from_json.model().n_head(), 4) << "lowerCamel JSON names are accepted too";
  EXPECT_EQ(config_hash(from_text), config_hash(from_json));
}

TEST_F(ConfigFiles, JsonMistakesNameTheField) {
  EXPECT_CONTAINS(error_of([&] { load_config(write("a.json", R"({"train": {"stpes": 5}})")); }),
                  "a.json: no field 'stpes' in train (fields: steps, micro_batch_size");
  EXPECT_CONTAINS(error_of([&] { load_config(write("b.json", R"({"train": {"steps": "many"}})")); }),
                  "b.json: train.steps: 'many' is not an integer");
  EXPECT_CONTAINS(error_of([&] { load_config(write("c.json", R"({"train": {"steps": 2.5}})")); }),
                  "c.json: train.steps: '2.5' is not an integer");
  EXPECT_CONTAINS(error_of([&] { load_config(write("d.json", R"({"data": {"train_path": 3}})")); }),
                  "d.json: data.train_path: expected a string, got 3");
  EXPECT_CONTAINS(error_of([&] { load_config(write("e.json", R"({"train": 3})")); }),
                  "e.json: 'train' must be a JSON object, got 3");
  EXPECT_CONTAINS(error_of([&] { load_config(write("f.json", R"({"model": {"tie_embeddings": null}})")); }),
                  "f.json: model.tie_embeddings: expected a single value, got null");
  EXPECT_CONTAINS(
      error_of([&] { load_config(write("g.json", "{\n  \"train\": {\n    \"steps\": 5,\n  }\n}")); }),
      "g.json:4:");
}

TEST_F(ConfigFiles, GarbledTextNamesFileAndLine) {
  std::string path = write("garbled.pbtxt", "model {\n  n_layer: 4\n  d_model: = 12\n}\n");
  std::string message = error_of([&] { load_config(path); });
  EXPECT_CONTAINS(message, path + ":3:");
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one error, one line: " << message;

  std::string unclosed = write("unclosed.pbtxt", "model {\n  n_layer: 4\n");
  EXPECT_CONTAINS(error_of([&] { load_config(unclosed); }), unclosed + ":3:");
}

TEST_F(ConfigFiles, UnknownTextFieldIsNamed) {
  std::string path = write("typo.pbtxt", "model {\n  n_layers: 4\n}\n");
  std::string message = error_of([&] { load_config(path); });
  EXPECT_CONTAINS(message,
                  path + ":2:3: no field 'n_layers' in trident.config.ModelConfig (fields: arch, n_layer");
  EXPECT_CONTAINS(message, "did you mean 'n_layer'?");
}

TEST_F(ConfigFiles, WrongValueTypeInText) {
  std::string path = write("bad.pbtxt", "train {\n  steps: 1.5\n}\n");
  EXPECT_CONTAINS(error_of([&] { load_config(path); }), path + ":2:");
  std::string twice = write("twice.pbtxt", "train { steps: 3 steps: 4 }\n");
  EXPECT_CONTAINS(error_of([&] { load_config(twice); }), "steps");
}

TEST_F(ConfigFiles, MissingOrUnusablePathsAreNamed) {
  std::string missing = (dir_ / "nope.pbtxt").string();
  EXPECT_CONTAINS(error_of([&] { load_config(missing); }), "'" + missing + "' does not exist");
  EXPECT_CONTAINS(error_of([&] { load_config(""); }), "path is empty");
  fs::create_directories(dir_ / "dir.pbtxt");
  EXPECT_CONTAINS(error_of([&] { load_config((dir_ / "dir.pbtxt").string()); }), "is a directory");
  std::string yaml = write("c.yaml", "model: {}\n");
  EXPECT_CONTAINS(error_of([&] { load_config(yaml); }), "'" + yaml + "': unknown format");
}

TEST(ConfigText, ToTextRoundTripsIncludingZeros) {
  config::Config c = good_config();
  c.mutable_optim()->set_weight_decay(0);  // zero differs from the default: it must be written out
  c.mutable_train()->set_seed(0);
  c.mutable_train()->set_sample_prompt("line\n\"quoted\"");
  std::string text = to_text(c);
  EXPECT_CONTAINS(text, "weight_decay: 0");
  config::Config back = parse_config_text(text, "run/config.pbtxt");
  std::string diff;
  MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(c, back)) << diff;
}

// ---- overrides ----

TEST(ConfigOverrides, SetsEveryScalarKind) {
  config::Config c = good_config();
  apply_overrides(
      c, {"train.steps=50", "optim.lr=3e-4", "model.tie_embeddings=false", "data.train_path=x/y.bin",
          "train.seed=18446744073709551615", "train.sample_prompt=Once upon a time, ", "optim.min_lr=+0",
          "runtime.threads=-0", "train.sample_temperature=1"});
  EXPECT_EQ(c.train().steps(), 50);
  EXPECT_FLOAT_EQ(c.optim().lr(), 3e-4f);
  EXPECT_FALSE(c.model().tie_embeddings());
  EXPECT_EQ(c.data().train_path(), "x/y.bin");
  EXPECT_EQ(c.train().seed(), 18446744073709551615ull);
  EXPECT_EQ(c.train().sample_prompt(), "Once upon a time, ");
  EXPECT_EQ(c.optim().min_lr(), 0.0f);
  EXPECT_FLOAT_EQ(c.train().sample_temperature(), 1.0f);
  apply_overrides(c, {"model.tie_embeddings=1", "data.val_path=", "train.steps=7", "train.steps=8"});
  EXPECT_TRUE(c.model().tie_embeddings());
  EXPECT_EQ(c.data().val_path(), "");
  EXPECT_EQ(c.train().steps(), 8) << "later --set wins";
}

TEST(ConfigOverrides, EveryMistakeIsNamed) {
  auto set_error = [](const std::string& set) {
    config::Config c = good_config();
    return error_of([&] { apply_overrides(c, {set}); });
  };
  EXPECT_EQ(set_error("train.steps=abc"), "--set train.steps=abc: 'abc' is not an integer");
  EXPECT_CONTAINS(set_error("train.stpes=5"),
                  "--set train.stpes=5: no field 'stpes' in train (fields: steps, micro_batch_size, ");
  EXPECT_CONTAINS(set_error("train.stpes=5"), "did you mean 'steps'?");
  EXPECT_CONTAINS(set_error("trian.steps=5"),
                  "no field 'trian' in the config (fields: model, parallel, train");
  EXPECT_CONTAINS(set_error("train=3"), "--set train=3: 'train' is a group of settings, not a value");
  EXPECT_CONTAINS(set_error("train.steps.x=3"), "'train.steps' is a value, it has no field 'x'");
  EXPECT_CONTAINS(set_error("train.steps"), "expected path=value");
  EXPECT_CONTAINS(set_error("=3"), "path before '=' is empty");
  EXPECT_CONTAINS(set_error("train..steps=3"), "empty name");
  EXPECT_EQ(set_error("train.steps="), "--set train.steps=: '' is not an integer");
  EXPECT_EQ(set_error("train.steps=1.5"), "--set train.steps=1.5: '1.5' is not an integer");
  EXPECT_CONTAINS(set_error("train.steps=3000000000"), "'3000000000' is out of range for int32");
  EXPECT_CONTAINS(set_error("train.seed=-1"), "'-1' is not a non-negative integer");
  EXPECT_EQ(set_error("optim.lr=fast"), "--set optim.lr=fast: 'fast' is not a number");
  EXPECT_CONTAINS(set_error("optim.lr=1e39"), "out of range for float");
  EXPECT_CONTAINS(set_error("optim.lr=nan"), "'nan' is not a finite number");
  EXPECT_CONTAINS(set_error("model.tie_embeddings=yes"), "'yes' is not a bool (true or false)");
}

TEST(ConfigOverrides, ListsTakeCommaSeparatedValues) {
  const auto layers = [](const config::Config& c) {
    return std::vector<int>(c.parallel().pipeline_layers().begin(), c.parallel().pipeline_layers().end());
  };
  config::Config c = good_config();
  apply_overrides(c, {"parallel.pipeline_layers=1,3"});
  EXPECT_EQ(layers(c), (std::vector<int>{1, 3}));
  apply_overrides(c, {"parallel.pipeline_layers=2"});
  EXPECT_EQ(layers(c), (std::vector<int>{2})) << "a list replaces the whole field, it does not append";
  apply_overrides(c, {"parallel.pipeline_layers=1,1,1,1", "parallel.pipeline_layers=4"});
  EXPECT_EQ(layers(c), (std::vector<int>{4})) << "later --set wins";
  apply_overrides(c, {"parallel.pipeline_layers="});
  EXPECT_EQ(layers(c), std::vector<int>{}) << "an empty value clears the list";

  auto set_error = [](const std::string& set) {
    config::Config d = good_config();
    return error_of([&] { apply_overrides(d, {set}); });
  };
  EXPECT_EQ(set_error("parallel.pipeline_layers=1,x"),
            "--set parallel.pipeline_layers=1,x: 'x' is not an integer");
  EXPECT_EQ(set_error("parallel.pipeline_layers=1,,3"),
            "--set parallel.pipeline_layers=1,,3: '' is not an integer");
  EXPECT_EQ(set_error("parallel.pipeline_layers=1,3,"),
            "--set parallel.pipeline_layers=1,3,: '' is not an integer");
  EXPECT_CONTAINS(set_error("parallel.pipeline_layers=1,3000000000"),
                  "'3000000000' is out of range for int32");

  // Fields that are not lists read the whole value, commas included, as before.
  EXPECT_EQ(set_error("train.steps=1,3"), "--set train.steps=1,3: '1,3' is not an integer");
  EXPECT_EQ(set_error("optim.lr=1,3"), "--set optim.lr=1,3: '1,3' is not a number");
  config::Config s = good_config();
  apply_overrides(s, {"data.train_path=a,b.bin", "train.sample_prompt=Yes, no"});
  EXPECT_EQ(s.data().train_path(), "a,b.bin");
  EXPECT_EQ(s.train().sample_prompt(), "Yes, no");
}

TEST_F(ConfigFiles, ListsInText) {
  config::Config c = load_config(write("c.pbtxt", "parallel { pipeline: 2 pipeline_layers: [1, 3] }\n"));
  EXPECT_EQ(std::vector<int>(c.parallel().pipeline_layers().begin(), c.parallel().pipeline_layers().end()),
            (std::vector<int>{1, 3}))
      << "the file merged over the defaults once";
  EXPECT_CONTAINS(to_text(c), "pipeline_layers: 1\n  pipeline_layers: 3\n");
  EXPECT_TRUE(MessageDifferencer::Equals(c, parse_config_text(to_text(c)))) << "config.pbtxt reloads as is";
  config::Config with_set = load_config(write("d.pbtxt", "parallel { pipeline_layers: [1, 3] }\n"));
  apply_overrides(with_set, {"parallel.pipeline_layers=2,2"});
  EXPECT_EQ(with_set.parallel().pipeline_layers_size(), 2) << "--set replaces the file's list";
  EXPECT_EQ(with_set.parallel().pipeline_layers(0), 2);
  // JSON lists too; an element that is not a single value is refused.
  config::Config json = load_config(write("e.json", R"({"parallel": {"pipeline_layers": [1, 3]}})"));
  EXPECT_EQ(json.parallel().pipeline_layers_size(), 2);
  EXPECT_EQ(json.parallel().pipeline_layers(1), 3);
  EXPECT_CONTAINS(
      error_of([&] { load_config(write("f.json", R"({"parallel": {"pipeline_layers": [[1]]}})")); }),
      "expected a list of single values");
}

// ---- derived values ----

TEST(ConfigResolve, DerivedValues) {
  config::Config c = default_config();
  apply_overrides(c, {"model.d_model=128", "model.n_head=4", "model.max_seq_len=64",
                      "train.micro_batch_size=3", "optim.lr=0.01"});
  resolve(c, /*world_size=*/4);
  EXPECT_EQ(c.model().n_kv_head(), 4);
  EXPECT_EQ(c.model().d_ff(), 512);                 // gpt2: 4 * d_model
  EXPECT_EQ(c.train().seq_len(), 64);               // max_seq_len
  EXPECT_EQ(c.train().global_batch_size(), 3 * 4);  // micro * data-parallel ranks (data 0: all 4)
  EXPECT_FLOAT_EQ(c.optim().min_lr(), 0.001f);      // lr / 10
  EXPECT_EQ(c.runtime().device(), "auto");

  config::Config again = c;
  resolve(again, 4);
  EXPECT_TRUE(MessageDifferencer::Equals(c, again)) << "resolve is idempotent";

  config::Config llama = default_config();
  apply_overrides(llama, {"model.arch=llama", "model.d_model=128"});
  resolve(llama);
  EXPECT_EQ(llama.model().d_ff(), 384);  // round_up(8 * 128 / 3 = 341, 64)
  apply_overrides(llama, {"model.d_model=2048", "model.d_ff=0"});
  resolve(llama);
  EXPECT_EQ(llama.model().d_ff(), 5504);
}

TEST(ConfigResolve, Helpers) {
  config::ModelConfig m;
  m.set_vocab_size(50257);
  m.set_vocab_pad_multiple(128);
  EXPECT_EQ(padded_vocab(m), 50304);
  m.set_vocab_pad_multiple(1);
  EXPECT_EQ(padded_vocab(m), 50257);
  m.set_vocab_pad_multiple(0);
  EXPECT_EQ(padded_vocab(m), 50257);
  // With tensor parallelism: the least multiple of lcm(pad multiple, tp) that holds the vocabulary.
  m.set_vocab_size(257);
  m.set_vocab_pad_multiple(64);
  EXPECT_EQ(padded_vocab(m, 2), 320);
  EXPECT_EQ(padded_vocab(m, 3), 384);  // lcm(64, 3) = 192
  m.set_vocab_pad_multiple(1);
  EXPECT_EQ(padded_vocab(m, 2), 258);
  EXPECT_EQ(padded_vocab(m, 1), 257);
  EXPECT_EQ(padded_vocab(m, 0), 257) << "tp below 1 counts as 1, as the pad multiple does";
  m.set_d_model(768);
  m.set_n_head(12);
  EXPECT_EQ(head_dim(m), 64);
  m.set_n_head(0);
  EXPECT_EQ(head_dim(m), 0);
  config::Config c = default_config();
  EXPECT_EQ(data_parallel_size(c, 8), 8);
  c.mutable_parallel()->set_data(1);
  EXPECT_EQ(data_parallel_size(c, 8), 1);
}

// ---- validation ----

TEST(ConfigValidate, ReportsEveryProblemAtOnce) {
  config::Config c = good_config();
  apply_overrides(c, {"model.d_model=100", "model.n_head=3", "model.n_kv_head=3", "train.steps=0",
                      "optim.beta2=1", "data.train_path=", "runtime.device=tpu"});
  std::string message = error_of([&] { validate(c); });
  EXPECT_CONTAINS(message, "config has ");
  EXPECT_CONTAINS(message, "\n  - model.d_model (100) is not divisible by model.n_head (3)");
  EXPECT_CONTAINS(message, "\n  - train.steps (0) must be > 0");
  EXPECT_CONTAINS(message, "\n  - optim.beta2 (1) must be in [0, 1)");
  EXPECT_CONTAINS(message, "\n  - data.train_path is empty");
  EXPECT_CONTAINS(message, "\n  - runtime.device 'tpu' is not one of auto, cpu, cuda");
  size_t listed = std::count(message.begin(), message.end(), '\n');
  EXPECT_CONTAINS(message, "config has " + std::to_string(listed) + " problems:");
  EXPECT_EQ(listed, validation_problems(c).size());
}

TEST(ConfigValidate, SeqLenBeyondMaxNamesBoth) {
  config::Config c = good_config();
  apply_overrides(c, {"train.seq_len=512"});
  EXPECT_EQ(error_of([&] { validate(c); }),
            "config has 1 problem:\n  - train.seq_len (512) must be between 1 and model.max_seq_len (256)");
}

TEST(ConfigValidate, UnsupportedParallelismIsRefusedPlainly) {
  config::Config c = good_config();
  apply_overrides(c, {"parallel.context=2"});
  EXPECT_CONTAINS(error_of([&] { validate(c, 2); }),
                  "parallel.context = 2: context parallelism is not supported yet; set it to 1");
  for (const char* set : {"parallel.expert_tensor=2", "parallel.context=2"}) {
    SCOPED_TRACE(set);
    config::Config d = good_config();
    apply_overrides(d, {set});
    EXPECT_CONTAINS(problems_text(d, 2), "not supported yet");
  }
  // Data parallelism is supported: data = 2 on 2 ranks is valid, and so is data = 0 on 4.
  config::Config dp2 = good_config();
  apply_overrides(dp2, {"parallel.data=2"});
  EXPECT_EQ(problems_text(dp2, 2), "");
  config::Config dp0 = good_config();
  apply_overrides(dp0, {"parallel.data=0", "train.global_batch_size=32"});
  EXPECT_EQ(problems_text(dp0, 4), "");
  config::Config data0 = good_config();
  apply_overrides(data0, {"parallel.data=0"});
  EXPECT_EQ(problems_text(data0), "");
  apply_overrides(data0, {"parallel.zero_stage=4", "parallel.tensor=0", "parallel.order=tp-dp-pp"});
  std::string text = problems_text(data0);
  EXPECT_CONTAINS(text, "parallel.zero_stage (4) must be 0, 1, 2 or 3");
  EXPECT_CONTAINS(text, "parallel.tensor (0) must be >= 1");
  EXPECT_CONTAINS(text, "parallel.order 'tp-dp-pp' must name each of tp, cp, ep, dp, pp once");
  config::Config zero = good_config();
  apply_overrides(zero,
                  {"parallel.zero_stage=2", "parallel.zero_shard_size=2", "train.global_batch_size=32"});
  EXPECT_EQ(problems_text(zero, 4), "") << "dp 4 in 2 shard groups of 2";
  apply_overrides(zero, {"parallel.zero_shard_size=3"});
  EXPECT_CONTAINS(problems_text(zero, 4),
                  "parallel.zero_shard_size (3) must divide the data-parallel size (4)");
  apply_overrides(zero, {"parallel.zero_shard_size=2", "parallel.zero_stage=0"});
  EXPECT_CONTAINS(problems_text(zero, 4),
                  "parallel.zero_shard_size (2) shards ZeRO state, but parallel.zero_stage is 0");
  apply_overrides(zero, {"parallel.zero_shard_size=0", "parallel.zero_prefetch=-1"});
  EXPECT_CONTAINS(problems_text(zero, 4), "parallel.zero_prefetch (-1) must be >= 0");
  config::Config reduce = good_config();
  apply_overrides(reduce, {"parallel.grad_reduce_dtype=fp16"});
  EXPECT_CONTAINS(problems_text(reduce), "parallel.grad_reduce_dtype 'fp16' is not one of fp32, bf16");
  apply_overrides(reduce, {"parallel.grad_reduce_dtype=bf16"});
  EXPECT_EQ(problems_text(reduce), "");
  config::Config reordered = good_config();
  apply_overrides(reordered, {"parallel.order=pp-dp-ep-cp-tp"});
  EXPECT_EQ(problems_text(reordered), "");
  config::Config mismatch = good_config();  // data 1 but 2 ranks launched
  apply_overrides(mismatch, {"parallel.data=1"});
  EXPECT_CONTAINS(problems_text(mismatch, 2),
                  "tensor (1) x pipeline (1) x data (1) = 1 do not match the 2 ranks launched");
}

TEST(ConfigValidate, TensorParallelLayouts) {
  config::Config tp2 = good_config();  // gpt2_tiny: 4 heads, d_ff 4 * 128, vocabulary padded to 320
  apply_overrides(tp2, {"parallel.tensor=2"});
  EXPECT_EQ(problems_text(tp2, 2), "");
  EXPECT_EQ(problems_text(tp2, 4), "") << "tp 2 x dp 2";
  EXPECT_CONTAINS(problems_text(tp2, 3),
                  "the 3 ranks launched are not divisible by tensor (2) x pipeline (1)");

  config::Config replicated = load_config(kConfigs + "llama_tiny.pbtxt");  // 4 heads, 2 key/value heads
  apply_overrides(replicated, {"parallel.tensor=4"});
  EXPECT_EQ(problems_text(replicated, 4), "") << "each key/value head replicated on 2 of the 4 ranks";

  // Every tensor-parallel kernel has a CUDA twin (core/ops), so tp runs on GPUs too: the only problem left is
  // a build without the CUDA backend.
  config::Config on_gpu = good_config();
  apply_overrides(on_gpu, {"parallel.tensor=2", "runtime.device=cuda"});
  const std::string gpu_text = problems_text(on_gpu, 2);
  EXPECT_EQ(gpu_text.find("parallel.tensor"), std::string::npos) << gpu_text;
  if (!gpu_text.empty()) {
    EXPECT_EQ(gpu_text,
              "runtime.device 'cuda' needs the CUDA backend, which this build does not include (no nvcc "
              "was found); use cpu or auto\n");
  }

  config::Config no_pad = good_config();
  apply_overrides(no_pad, {"parallel.tensor=2", "model.vocab_pad_multiple=1"});
  EXPECT_EQ(problems_text(no_pad, 2), "") << "257 rows pad to 258: the vocabulary always splits";
}

TEST(ConfigValidate, PipelineLayouts) {
  for (const char* name : {"gpt2_tiny.pbtxt", "llama_tiny.pbtxt"}) {  // 4 layers, 2 micro-batches a step
    SCOPED_TRACE(name);
    config::Config pp2 = load_config(kConfigs + name);
    apply_overrides(pp2, {"parallel.pipeline=2"});
    EXPECT_EQ(problems_text(pp2, 2), "") << "2 stages of 2 layers";
    EXPECT_NO_THROW(validate(pp2, 2));
    EXPECT_EQ(problems_text(pp2, 4), "") << "pp 2 x dp 2";
    EXPECT_CONTAINS(problems_text(pp2, 1),
                    "the 1 rank launched are not divisible by tensor (1) x pipeline (2) = 2");

    config::Config three_d = pp2;  // the README's 3D example: pp 2 x tp 2 x dp 2
    apply_overrides(three_d, {"parallel.tensor=2"});
    EXPECT_EQ(problems_text(three_d, 8), "");

    config::Config gpipe = pp2;
    apply_overrides(gpipe, {"train.schedule=gpipe"});
    EXPECT_EQ(problems_text(gpipe, 2), "");

    config::Config uneven = pp2;
    apply_overrides(uneven, {"parallel.pipeline_layers=1,3"});
    EXPECT_EQ(problems_text(uneven, 2), "");

    config::Config interleaved = pp2;  // 4 stages of 1 layer, 2 micro-batches: a multiple of pp
    apply_overrides(interleaved, {"parallel.virtual_stages=2", "train.schedule=interleaved_1f1b"});
    EXPECT_EQ(problems_text(interleaved, 2), "");
    apply_overrides(interleaved, {"parallel.pipeline_layers=1,1,1,1"});
    EXPECT_EQ(problems_text(interleaved, 2), "");
  }
  config::Config pp4 = good_config();  // 4 stages of one layer on 4 ranks, 1 micro-batch
  apply_overrides(pp4, {"parallel.pipeline=4"});
  EXPECT_EQ(problems_text(pp4, 4), "");
}

TEST(ConfigValidate, PipelineRules) {
  config::Config three = good_config();  // 4 layers
  apply_overrides(three, {"parallel.pipeline=3"});
  EXPECT_EQ(
      problems_text(three, 3),
      "model.n_layer (4) does not split evenly over parallel.pipeline (3) x parallel.virtual_stages (1) = "
      "3 stages; change one of them or list the layers per stage in parallel.pipeline_layers\n");
  apply_overrides(three, {"parallel.pipeline_layers=1,1,2"});
  EXPECT_EQ(problems_text(three, 3), "") << "an explicit list fixes an uneven split";

  config::Config interleaved_uneven = good_config();
  apply_overrides(interleaved_uneven,
                  {"parallel.pipeline=2", "parallel.virtual_stages=4", "train.schedule=interleaved_1f1b"});
  EXPECT_CONTAINS(problems_text(interleaved_uneven, 2),
                  "model.n_layer (4) does not split evenly over parallel.pipeline (2) x "
                  "parallel.virtual_stages (4) = 8 stages");

  const auto layers_problem = [](const std::string& list) {
    config::Config c = good_config();
    apply_overrides(c, {"parallel.pipeline=2", "parallel.pipeline_layers=" + list});
    return problems_text(c, 2);
  };
  EXPECT_EQ(
      layers_problem("1,1,2"),
      "parallel.pipeline_layers [1, 1, 2] must list 2 stages (pipeline 2 x virtual_stages 1) of at least "
      "one layer each, adding up to model.n_layer (4); it lists 3 adding up to 4\n");
  EXPECT_EQ(
      layers_problem("1,2"),
      "parallel.pipeline_layers [1, 2] must list 2 stages (pipeline 2 x virtual_stages 1) of at least one "
      "layer each, adding up to model.n_layer (4); it lists 2 adding up to 3\n");
  EXPECT_CONTAINS(layers_problem("2,3"), "adding up to model.n_layer (4); it lists 2 adding up to 5");
  EXPECT_CONTAINS(layers_problem("0,4"), "parallel.pipeline_layers [0, 4] must list 2 stages");
  EXPECT_CONTAINS(layers_problem("0,4"), "of at least one layer each");
  EXPECT_CONTAINS(layers_problem("-1,5"), "parallel.pipeline_layers [-1, 5]");
  EXPECT_CONTAINS(layers_problem("4"), "it lists 1 adding up to 4");

  config::Config bogus = good_config();  // the schedule is checked with pipeline 1 too
  apply_overrides(bogus, {"train.schedule=bogus"});
  EXPECT_EQ(problems_text(bogus),
            "unknown pipeline schedule 'bogus': expected one of gpipe, 1f1b, interleaved_1f1b\n");
  apply_overrides(bogus, {"parallel.pipeline=2"});
  EXPECT_CONTAINS(problems_text(bogus, 2), "expected one of gpipe, 1f1b, interleaved_1f1b");

  config::Config odd = good_config();  // global 24 / micro 8 = 3 micro-batches, not a multiple of pp 2
  apply_overrides(odd, {"parallel.pipeline=2", "parallel.virtual_stages=2", "train.schedule=interleaved_1f1b",
                        "train.global_batch_size=24"});
  EXPECT_EQ(
      problems_text(odd, 2),
      "train.schedule 'interleaved_1f1b' with 3 micro-batches per step: interleaved_1f1b with 2 virtual "
      "stages needs microbatches (3) divisible by the pipeline size (2): microbatches go through the "
      "chunks in groups of pp (Megatron's rule)\n");
  apply_overrides(odd, {"parallel.virtual_stages=1"});
  EXPECT_EQ(problems_text(odd, 2), "") << "with one chunk per rank any micro-batch count runs";
  apply_overrides(odd, {"train.schedule=1f1b"});
  EXPECT_EQ(problems_text(odd, 2), "");

  for (const char* schedule : {"gpipe", "1f1b"}) {
    SCOPED_TRACE(schedule);
    config::Config v2 = good_config();
    apply_overrides(
        v2, {"parallel.pipeline=2", "parallel.virtual_stages=2", std::string("train.schedule=") + schedule});
    EXPECT_EQ(problems_text(v2, 2),
              fmt::format("train.schedule '{0}' with 2 micro-batches per step: schedule {0} runs one model "
                          "chunk per rank (virtual stages 1), got virtual stages 2; use interleaved_1f1b for "
                          "more\n",
                          schedule));
  }

  config::Config one_rank = good_config();  // nothing to interleave on one pipeline rank
  apply_overrides(one_rank, {"parallel.virtual_stages=2", "train.schedule=interleaved_1f1b"});
  EXPECT_CONTAINS(problems_text(one_rank), "needs pipeline size > 1");

  for (const char* v : {"0", "-1"}) {
    SCOPED_TRACE(v);
    config::Config zero = good_config();
    apply_overrides(zero, {std::string("parallel.virtual_stages=") + v, "parallel.pipeline=2"});
    EXPECT_EQ(problems_text(zero, 2), fmt::format("parallel.virtual_stages ({}) must be >= 1\n", v));
  }
  config::Config pp0 = good_config();
  apply_overrides(pp0, {"parallel.pipeline=0"});
  EXPECT_CONTAINS(problems_text(pp0), "parallel.pipeline (0) must be >= 1");
}

TEST(ConfigValidate, TensorParallelRules) {
  config::Config heads = good_config();
  apply_overrides(heads, {"parallel.tensor=3"});
  EXPECT_CONTAINS(
      problems_text(heads, 3),
      "model.n_head (4) is not divisible by parallel.tensor (3); each tensor-parallel rank computes "
      "whole attention heads");

  config::Config kv = good_config();
  apply_overrides(kv, {"model.d_model=192", "model.n_head=6", "model.n_kv_head=3", "parallel.tensor=2"});
  EXPECT_EQ(problems_text(kv, 2),
            "model.n_kv_head (3) and parallel.tensor (2): key/value heads must split evenly over the "
            "tensor-parallel ranks (n_kv_head % tensor == 0) or be replicated evenly (tensor % n_kv_head == "
            "0)\n");

  config::Config ff = good_config();
  apply_overrides(ff, {"model.d_ff=510", "parallel.tensor=4"});
  EXPECT_EQ(
      problems_text(ff, 4),
      "model.d_ff (510) is not divisible by parallel.tensor (4); each tensor-parallel rank computes whole "
      "MLP columns\n");
  // The derived width is checked: LLaMA's rule gives round_up(8 * 96 / 3, 64) = 256 for d_model 96.
  config::Config derived = load_config(kConfigs + "llama_tiny.pbtxt");
  apply_overrides(derived, {"model.d_model=96", "model.n_head=3", "model.n_kv_head=3", "model.d_ff=0",
                            "parallel.tensor=3"});
  EXPECT_EQ(
      problems_text(derived, 3),
      "model.d_ff (256) is not divisible by parallel.tensor (3); each tensor-parallel rank computes whole "
      "MLP columns\n");
}

TEST(ConfigValidate, SequenceParallelRules) {
  config::Config sp = good_config();
  apply_overrides(sp, {"parallel.tensor=2", "parallel.sequence_parallel=true"});
  EXPECT_TRUE(sp.parallel().sequence_parallel());
  EXPECT_EQ(problems_text(sp, 2), "");
  apply_overrides(sp, {"train.micro_batch_size=1", "train.seq_len=127"});
  EXPECT_EQ(
      problems_text(sp, 2),
      "parallel.sequence_parallel needs train.micro_batch_size (1) x train.seq_len (127) = 127 token rows "
      "divisible by parallel.tensor (2); each tensor-parallel rank holds an equal block of them\n");
  apply_overrides(sp, {"parallel.sequence_parallel=false"});
  EXPECT_EQ(problems_text(sp, 2), "") << "without sequence parallelism the rows are not split";

  config::Config tp1 = good_config();  // allowed with tensor 1, where it changes nothing
  apply_overrides(tp1, {"parallel.sequence_parallel=1", "train.micro_batch_size=1", "train.seq_len=127"});
  EXPECT_EQ(problems_text(tp1), "");
}

TEST(ConfigValidate, BatchAndScheduleRules) {
  config::Config c = good_config();
  apply_overrides(c, {"train.global_batch_size=20", "train.steps=300", "optim.warmup_steps=400",
                      "optim.lr=0.001", "optim.min_lr=0.01", "train.log_interval=0", "train.eval_steps=0",
                      "optim.eps=0", "optim.grad_clip=-1", "train.sample_temperature=0",
                      "train.sample_top_k=-1", "optim.weight_decay=-0.1"});
  std::string text = problems_text(c);
  EXPECT_CONTAINS(text,
                  "train.global_batch_size (20) is not divisible by train.micro_batch_size (8) x "
                  "data-parallel size (1) = 8");
  EXPECT_CONTAINS(text, "optim.warmup_steps (400) must be between 0 and train.steps (300)");
  EXPECT_CONTAINS(text, "optim.min_lr (0.01) must be between 0 and optim.lr (0.001)");
  EXPECT_CONTAINS(text, "train.log_interval (0) must be > 0");
  EXPECT_CONTAINS(text, "train.eval_steps (0) must be > 0 when data.val_path is set");
  EXPECT_CONTAINS(text, "optim.eps (0) must be > 0");
  EXPECT_CONTAINS(text, "optim.grad_clip (-1) must be >= 0");
  EXPECT_CONTAINS(text, "train.sample_temperature (0) must be > 0");
  EXPECT_CONTAINS(text, "train.sample_top_k (-1) must be >= 0");
  EXPECT_CONTAINS(text, "optim.weight_decay (-0.1) must be >= 0");
  apply_overrides(c, {"data.val_path="});
  EXPECT_EQ(problems_text(c).find("eval_steps"), std::string::npos)
      << "no validation set, no eval_steps rule";
}

TEST(ConfigValidate, ModelRules) {
  config::Config c = good_config();
  apply_overrides(c, {"model.arch=bert", "model.n_kv_head=3", "model.norm_eps=0",
                      "model.vocab_pad_multiple=0", "model.max_seq_len=0", "train.seq_len=0"});
  std::string text = problems_text(c);
  EXPECT_CONTAINS(text, "model.arch 'bert' is not one of gpt2, llama");
  EXPECT_CONTAINS(text, "model.n_head (4) is not divisible by model.n_kv_head (3)");
  EXPECT_CONTAINS(text, "model.norm_eps (0) must be > 0");
  EXPECT_CONTAINS(text, "model.vocab_pad_multiple (0) must be >= 1");
  EXPECT_CONTAINS(text, "model.max_seq_len (0) must be > 0");

  std::string empty = problems_text(default_config());
  EXPECT_CONTAINS(empty, "model.n_head (0) must be > 0");
  EXPECT_CONTAINS(empty, "model.d_model (0) must be > 0");
  EXPECT_EQ(empty.find("n_kv_head"), std::string::npos) << "a derived field is not blamed for its source";
  EXPECT_EQ(empty.find("d_ff"), std::string::npos);

  config::Config llama = load_config(kConfigs + "llama_tiny.pbtxt");
  apply_overrides(llama, {"model.d_model=132", "model.n_head=4", "model.n_kv_head=4", "model.d_ff=0"});
  EXPECT_CONTAINS(problems_text(llama), "d_model / n_head = 132 / 4 = 33 is odd; RoPE rotates pairs");
  config::Config gpt2_gqa = good_config();  // unusual for GPT-2 but allowed
  apply_overrides(gpt2_gqa, {"model.n_kv_head=2"});
  EXPECT_EQ(problems_text(gpt2_gqa), "");
}

TEST(ConfigValidate, MoeRules) {
  config::Config moe = good_config();
  apply_overrides(moe, {"model.moe.num_experts=8", "model.moe.top_k=2", "model.moe.every=2",
                        "model.moe.capacity_factor=1.25", "model.moe.shared_experts=1"});
  EXPECT_EQ(problems_text(moe), "");
  apply_overrides(moe, {"model.moe.top_k=9", "model.moe.every=0", "model.moe.capacity_factor=-1",
                        "model.moe.d_ff_expert=-4", "model.moe.aux_loss_coeff=-0.5",
                        "model.moe.z_loss_coeff=-1", "model.moe.shared_experts=-1"});
  std::string text = problems_text(moe);
  EXPECT_CONTAINS(text, "model.moe.top_k (9) must be between 1 and model.moe.num_experts (8)");
  EXPECT_CONTAINS(text, "model.moe.every (0) must be >= 1");
  EXPECT_CONTAINS(text, "model.moe.capacity_factor (-1) must be >= 0 (0: dropless");
  EXPECT_CONTAINS(text, "model.moe.d_ff_expert (-4) must be >= 0");
  EXPECT_CONTAINS(text, "model.moe.aux_loss_coeff (-0.5) must be >= 0");
  EXPECT_CONTAINS(text, "model.moe.z_loss_coeff (-1) must be >= 0");
  EXPECT_CONTAINS(text, "model.moe.shared_experts (-1) must be >= 0");

  config::Config ep = good_config();
  apply_overrides(ep, {"model.moe.num_experts=6", "parallel.expert=4"});
  EXPECT_CONTAINS(problems_text(ep, 4), "parallel.expert (4) must divide model.moe.num_experts (6)");
  config::Config ep2 = good_config();
  apply_overrides(ep2, {"model.moe.num_experts=8", "parallel.expert=2"});
  EXPECT_EQ(problems_text(ep2, 2), "") << "ep 2 folded over dp 2";
  apply_overrides(ep2, {"parallel.expert=4"});
  EXPECT_CONTAINS(
      problems_text(ep2, 2),
      "parallel.expert (4) must divide the tensor x data-parallel ranks of a stage (tensor 1 x data 2 "
      "= 2)");
  apply_overrides(ep2, {"parallel.expert=2", "parallel.tensor=2"});
  EXPECT_CONTAINS(problems_text(ep2, 2),
                  "parallel.expert (2) with parallel.tensor (2) needs "
                  "parallel.sequence_parallel: true");
  apply_overrides(ep2, {"parallel.sequence_parallel=true"});
  EXPECT_EQ(problems_text(ep2, 2), "") << "ep 2 folded over tp 2";
  apply_overrides(ep2, {"parallel.tensor=1", "parallel.zero_stage=3"});
  EXPECT_EQ(problems_text(ep2, 2), "")
      << "ep 2 with ZeRO-3 (experts shard over the expert-data-parallel group)";
  config::Config dense = good_config();
  apply_overrides(dense, {"model.moe.capacity_factor=2", "model.moe.shared_experts=1", "parallel.expert=2"});
  text = problems_text(dense, 2);
  EXPECT_CONTAINS(
      text,
      "model.moe.capacity_factor, shared_experts are set, but model.moe.num_experts is 0 (a dense "
      "model has no experts)");
  EXPECT_CONTAINS(text, "parallel.expert (2) splits experts over ranks, but model.moe.num_experts is 0");
  config::Config negative = good_config();
  apply_overrides(negative, {"model.moe.num_experts=-2"});
  EXPECT_CONTAINS(problems_text(negative), "model.moe.num_experts (-2) must be >= 0 (0: a dense model)");
  config::Config shared_tp = good_config();
  apply_overrides(shared_tp, {"model.moe.num_experts=4", "model.moe.shared_experts=1",
                              "model.moe.d_ff_expert=30", "parallel.tensor=4", "train.global_batch_size=16"});
  EXPECT_CONTAINS(problems_text(shared_tp, 4),
                  "the shared experts' width model.moe.shared_experts x d_ff_expert = 30 is not divisible by "
                  "parallel.tensor (4)");
}

TEST(ConfigValidate, CheckpointRules) {
  config::Config c = good_config();
  EXPECT_EQ(c.checkpoint().interval(), 0) << "no checkpoints unless asked";
  EXPECT_EQ(c.checkpoint().keep(), 2);
  apply_overrides(c, {"checkpoint.interval=-1", "checkpoint.keep=0"});
  const std::string text = problems_text(c);
  EXPECT_CONTAINS(text, "checkpoint.interval (-1) must be >= 0 (0: no checkpoints)");
  EXPECT_CONTAINS(text, "checkpoint.keep (0) must be >= 1");
}

TEST(ConfigValidate, TokenizerAndRuntimeRules) {
  config::Config c = good_config();
  EXPECT_EQ(c.runtime().peak_tflops(), 0) << "auto: the GPU table, or the CPU's measured GEMM rate";
  apply_overrides(c, {"model.vocab_size=256", "runtime.threads=-2", "runtime.peak_tflops=-1"});
  std::string text = problems_text(c);
  EXPECT_CONTAINS(text, "model.vocab_size (256) is too small for the byte tokenizer, which needs 257");
  EXPECT_CONTAINS(text, "runtime.threads (-2) must be >= 0");
  EXPECT_CONTAINS(text, "runtime.peak_tflops (-1) must be >= 0");

  config::Config gpt2 = good_config();
  apply_overrides(gpt2, {"data.tokenizer=gpt2"});
  text = problems_text(gpt2);
  EXPECT_CONTAINS(text, "data.vocab_path is empty");
  EXPECT_CONTAINS(text, "data.merges_path is empty");
  EXPECT_CONTAINS(text, "too small for the gpt2 tokenizer");
  apply_overrides(gpt2, {"data.tokenizer=sentencepiece"});
  EXPECT_CONTAINS(problems_text(gpt2), "data.tokenizer 'sentencepiece' is not one of byte, gpt2");
}

// MoE has no CUDA kernels yet: an explicit cuda is refused when the config is read; auto keeps it on the CPU.
TEST(ConfigValidate, MoeStaysOnTheCpu) {
  config::Config c = good_config();
  apply_overrides(c, {"model.moe.num_experts=4", "model.moe.d_ff_expert=64", "runtime.device=cuda"});
  if (built_with_cuda()) {
    EXPECT_CONTAINS(problems_text(c),
                    "runtime.device 'cuda' with model.moe.num_experts 4: the MoE layers' gate arithmetic");
  }
  apply_overrides(c, {"runtime.device=auto"});
  EXPECT_EQ(problems_text(c), "");
  EXPECT_TRUE(models::ModelSpec::from_config(c).device.is_cpu()) << "auto keeps an MoE model on the CPU";
  config::Config dense = good_config();
  apply_overrides(dense, {"runtime.device=cuda"});
  EXPECT_EQ(problems_text(dense).find("gate arithmetic"), std::string::npos)
      << "a dense model may take the GPU";
}

TEST(ConfigValidate, CommBackendRules) {
  config::Config c = good_config();
  EXPECT_EQ(c.comm().backend(), "auto") << "nccl on a GPU, mpi on CPU";
  apply_overrides(c, {"comm.backend=mpi"});
  EXPECT_EQ(problems_text(c), "");
  apply_overrides(c, {"comm.backend=gloo"});
  EXPECT_CONTAINS(problems_text(c), "comm.backend 'gloo' is not one of auto, nccl, mpi");

  apply_overrides(c, {"comm.backend=nccl", "runtime.device=cpu"});
  const std::string text = problems_text(c);
  if (built_with_cuda()) {
    EXPECT_CONTAINS(text, "comm.backend 'nccl' on runtime.device 'cpu': NCCL works on GPU memory only");
  } else {
    EXPECT_CONTAINS(text, "comm.backend 'nccl' needs the CUDA backend, which this build does not include");
  }
  // On auto the device is only known at run time: resolve_backend decides there.
  apply_overrides(c, {"runtime.device=auto"});
  if (built_with_cuda()) {
    EXPECT_EQ(problems_text(c), "");
  }
}

TEST(ConfigValidate, CommBackendResolvesForTheModelsDevice) {
  using comm::Backend;
  using comm::resolve_backend;
  EXPECT_EQ(resolve_backend("auto", Device::cpu()), Backend::mpi);
  EXPECT_EQ(resolve_backend("", Device::cpu()), Backend::mpi) << "a config built without defaults";
  EXPECT_EQ(resolve_backend("mpi", Device::cpu()), Backend::mpi);
  EXPECT_EQ(resolve_backend("mpi", Device::cuda(1)), Backend::mpi)
      << "device buffers staged through the host";
  EXPECT_EQ(resolve_backend("auto", Device::cuda(0)), Backend::nccl);
  EXPECT_STREQ(comm::backend_name(Backend::nccl), "nccl");
  EXPECT_STREQ(comm::backend_name(Backend::mpi), "mpi");
  EXPECT_CONTAINS(error_of([] { resolve_backend("gloo", Device::cpu()); }),
                  "comm.backend 'gloo' is not one of auto, nccl, mpi");
  if (built_with_cuda()) {
    EXPECT_EQ(resolve_backend("nccl", Device::cuda(0)), Backend::nccl);
    EXPECT_CONTAINS(error_of([] { resolve_backend("nccl", Device::cpu()); }),
                    "comm.backend 'nccl' on a cpu device: NCCL works on GPU memory only");
  } else {
    EXPECT_CONTAINS(error_of([] { resolve_backend("nccl", Device::cuda(0)); }),
                    "comm.backend 'nccl' needs the CUDA backend");
  }
}

TEST(ConfigValidate, LowPrecisionSettings) {
  config::Config c = good_config();
  for (const char* p : {"bf16", "fp16"}) {
    apply_overrides(c, {std::string("train.precision=") + p});
    EXPECT_EQ(problems_text(c), "") << p << " trains on CPU too (bf16/fp16 storage, fp32 compute)";
  }
  apply_overrides(c, {"train.loss_scale=0", "train.loss_scale_window=-1"});
  EXPECT_CONTAINS(problems_text(c), "train.loss_scale");
  EXPECT_CONTAINS(problems_text(c), "train.loss_scale_window");
  apply_overrides(c, {"train.precision=fp8"});
  EXPECT_CONTAINS(problems_text(c), "train.precision 'fp8' is not one of fp32, bf16, fp16");
}

TEST(ConfigValidate, RecomputeSettings) {
  config::Config c = good_config();
  EXPECT_EQ(c.train().recompute(), "none") << "activations kept by default";
  EXPECT_FALSE(models::ModelSpec::from_config(c).recompute);
  apply_overrides(c, {"train.recompute=full"});
  EXPECT_EQ(problems_text(c), "");
  EXPECT_TRUE(models::ModelSpec::from_config(c).recompute);
  apply_overrides(c, {"train.recompute=selective"});
  EXPECT_CONTAINS(problems_text(c), "train.recompute 'selective' is not one of none, full");
  apply_overrides(c, {"train.recompute=full", "model.moe.num_experts=4", "model.moe.d_ff_expert=64"});
  EXPECT_EQ(problems_text(c), "") << "MoE blocks are recomputed too";
}

// ---- hash ----

TEST(ConfigHash, StableAndSensitive) {
  config::Config a = good_config();
  config::Config b = good_config();
  EXPECT_EQ(config_hash(a), config_hash(b));
  EXPECT_EQ(config_hash(a), config_hash(parse_config_text(to_text(a))));
  uint64_t before = config_hash(a);
  const std::string lr = "optim.lr=" + fmt::format("{}", a.optim().lr());
  apply_overrides(a, {"optim.lr=0.002"});
  EXPECT_NE(config_hash(a), before);
  apply_overrides(a, {lr});
  EXPECT_EQ(config_hash(a), before);
  apply_overrides(b, {"train.seed=1338"});
  EXPECT_NE(config_hash(b), before);
  config::Config empty;
  EXPECT_EQ(config_hash(empty), 14695981039346656037ull) << "FNV-1a of no bytes: the function is pinned";
}

}  // namespace
}  // namespace trident
