// trident export hf SRC OUT_DIR
// trident import hf HF_DIR --out RUN [--base CONFIG]
// Hugging Face interop (train/hf_convert.h): a Trident model as a transformers model directory and back.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "core/config/config.h"
#include "core/io/checkpoint_files.h"
#include "core/io/checkpoint_reader.h"
#include "core/io/safetensors.h"
#include "models/model_spec.h"
#include "tools/cli/commands.h"
#include "train/hf_config.h"
#include "train/hf_convert.h"
#include "train/model_logits.h"

namespace trident::cli {

namespace {

namespace fs = std::filesystem;

// SRC as a model: its resolved config and its global fp32 weights. SRC is a run directory (RUN/config.pbtxt
// and RUN/model.safetensors, as `trident train --out RUN` writes them; a run without model.safetensors, its
// newest checkpoint) or a checkpoint (a step directory or a checkpoint root: the config from its manifest,
// each tensor assembled from its pieces).
TridentWeights read_source(const std::string& src) {
  std::error_code ec;
  if (!fs::is_directory(src, ec))
    fail(
        "'{}' is not a directory (expected a run directory written by `trident train CONFIG --out DIR`, or a "
        "checkpoint)",
        src);
  const std::string weights = src + "/model.safetensors";
  TridentWeights w;
  if (fs::exists(weights, ec) && fs::exists(src + "/config.pbtxt", ec)) {
    w.config = load_config(src + "/config.pbtxt");
    w.tensors = io::load_safetensors(weights).tensors;
  } else {
    if (!fs::exists(src + "/manifest.pbtxt", ec) && !fs::exists(src + "/latest", ec) &&
        !fs::exists(src + "/checkpoints/latest", ec))
      fail(
          "'{}' has no model.safetensors and no checkpoint; train first with `trident train CONFIG --out {}`",
          src, src);
    io::CheckpointReader reader(io::resolve_checkpoint_dir(src));
    w.config = parse_config_text(reader.manifest().config(), reader.dir() + "/manifest.pbtxt (config)");
    w.tensors = io::read_model_weights(reader);
  }
  resolve(w.config);
  return w;
}

void run_export_hf(const std::string& src, const std::string& out, bool logits) {
  const TridentWeights w = read_source(src);
  const HfModel hf = to_hf(w.config, w.tensors);
  write_hf_dir(hf, out);
  const auto& m = w.config.model();
  fmt::print(
      "wrote {}/config.json and {}/model.safetensors: {} with {} tensors ({} layers, d_model {}, vocabulary "
      "{}); "
      "load it with {}.from_pretrained(\"{}\")\n",
      out, out, hf.config["architectures"][0].get<std::string>(), hf.tensors.size(), m.n_layer(), m.d_model(),
      m.vocab_size(), hf.config["architectures"][0].get<std::string>(), out);
  if (logits) {
    const Tensor tokens = probe_tokens(w.config);
    io::save_safetensors(
        out + "/trident_logits.safetensors",
        {{"input.tokens", tokens}, {"out.logits", model_logits(w.config, w.tensors, tokens)}},
        {{"source", src}});
    fmt::print("wrote {}/trident_logits.safetensors: Trident's logits on {} x {} tokens\n", out,
               tokens.dim(0), tokens.dim(1));
  }
}

// The config an imported model trains with beyond its shape: `given`, or the shipped tiny config of its
// architecture.
config::Config base_config(const std::string& given, const std::string& arch) {
  const std::string path =
      given.empty() ? std::string(TRIDENT_SOURCE_DIR) + "/configs/" + arch + "_tiny.pbtxt" : given;
  std::error_code ec;
  if (given.empty() && !fs::exists(path, ec))
    fail("the default base config {} is missing; pass --base CONFIG (training, data and parallel settings)",
         path);
  return load_config(path);
}

void run_import_hf(const std::string& dir, const std::string& out, const std::string& base_path) {
  const HfModel hf = read_hf_dir(dir);
  const std::string arch = trident_arch_of(hf.config, dir + "/config.json");
  TridentWeights w = from_hf(hf, base_config(base_path, arch));
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) fail("cannot create output directory '{}': {}", out, ec.message());
  const std::string weights = fs::absolute(out + "/model.safetensors").lexically_normal().string();
  config::Config& cfg = w.config;
  cfg.mutable_train()->set_init_weights(weights);
  // A GPT-2 directory that brings its BPE files trains on data tokenized with them.
  if (arch == "gpt2" && fs::exists(dir + "/vocab.json", ec) && fs::exists(dir + "/merges.txt", ec)) {
    cfg.mutable_data()->set_tokenizer("gpt2");
    cfg.mutable_data()->set_vocab_path(fs::absolute(dir + "/vocab.json").lexically_normal().string());
    cfg.mutable_data()->set_merges_path(fs::absolute(dir + "/merges.txt").lexically_normal().string());
  }
  io::save_safetensors(weights, w.tensors, {{"config", to_text(cfg)}});
  std::ofstream(out + "/config.pbtxt") << to_text(cfg);
  const models::ModelSpec s = models::ModelSpec::from_config(cfg.model());
  fmt::print(
      "imported {}: {}, {} layers, d_model {}, {} heads ({} kv), vocabulary {} (padded to {})\n"
      "wrote {}/config.pbtxt (train.init_weights: {}) and {}/model.safetensors\n"
      "continue pretraining with: trident train {}/config.pbtxt --out RUN (a new run directory)\n",
      dir, arch, s.n_layer, s.d_model, s.n_head, s.n_kv_head, s.vocab, s.padded_vocab, out, weights, out,
      out);
}

}  // namespace

void register_hf(CLI::App& app) {
  CLI::App* exp = app.add_subcommand("export", "Write a model in another framework's format");
  exp->require_subcommand(1);
  auto src = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  auto logits = std::make_shared<bool>(false);
  CLI::App* exp_hf = exp->add_subcommand(
      "hf", "Write a Hugging Face transformers model directory (GPT2LMHeadModel or LlamaForCausalLM)");
  exp_hf->add_option("src", *src, "Run directory written by `trident train --out DIR`")->required();
  exp_hf->add_option("out_dir", *out, "Directory to write config.json and model.safetensors into")
      ->required();
  exp_hf->footer(
      "Example:\n  trident export hf runs/gpt2_tiny hf/gpt2_tiny --logits\n"
      "  python3 tools/reference/check_hf_export.py hf/gpt2_tiny\n"
      "Mixture-of-experts models are refused.");
  exp_hf->add_flag("--logits", *logits,
                   "Also write OUT_DIR/trident_logits.safetensors: Trident's logits on a fixed batch, for "
                   "tools/reference/check_hf_export.py");
  exp_hf->callback([src, out, logits] { run_export_hf(*src, *out, *logits); });

  CLI::App* imp = app.add_subcommand("import", "Read a model from another framework's format");
  imp->require_subcommand(1);
  auto dir = std::make_shared<std::string>(), run = std::make_shared<std::string>();
  auto base = std::make_shared<std::string>();
  CLI::App* imp_hf = imp->add_subcommand("hf",
                                         "Read a Hugging Face model directory (config.json + "
                                         "model.safetensors) into a run directory to train on");
  imp_hf->add_option("hf_dir", *dir, "Hugging Face model directory (GPT2LMHeadModel or LlamaForCausalLM)")
      ->required();
  imp_hf->add_option("--out", *run, "Run directory to write config.pbtxt and model.safetensors into")
      ->required();
  imp_hf->add_option("--base", *base,
                     "Config for everything but the model (training, data, parallel); default: "
                     "configs/<arch>_tiny.pbtxt");
  imp_hf->footer(
      "Example:\n  trident import hf hf/gpt2_tiny --out runs/imported\n"
      "  trident train runs/imported/config.pbtxt --out runs/continued\n"
      "Refused by name: sharded checkpoints, RoPE scaling, biases on LLaMA, activations other than gelu_new "
      "(GPT-2) and silu (LLaMA).");
  imp_hf->callback([dir, run, base] { run_import_hf(*dir, *run, *base); });
}

}  // namespace trident::cli
