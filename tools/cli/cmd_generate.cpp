// trident generate RUN_DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed S]
//                  [--no-kv-cache]
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "core/config/config.h"
#include "core/data/tokenizer.h"
#include "core/io/param_io.h"
#include "core/io/safetensors.h"
#include "core/runtime/threads.h"
#include "tools/cli/commands.h"
#include "train/generate.h"

namespace trident::cli {

namespace {
struct GenerateArgs {
  std::string run_dir;
  std::string prompt;
  int64_t tokens = 200;
  double temperature = 0.8;
  int64_t top_k = 40;
  uint64_t seed = 0;
  bool no_kv_cache = false;
};

void run_generate(const GenerateArgs& a) {
  const std::string cfg_path = a.run_dir + "/config.pbtxt";
  const std::string weights_path = a.run_dir + "/model.safetensors";
  if (!std::filesystem::exists(weights_path)) {
    fail("'{}' has no model.safetensors; train first with `trident train CONFIG --out {}`", a.run_dir,
         a.run_dir);
  }
  config::Config cfg = load_config(cfg_path);
  set_cpu_threads(cfg.runtime().threads());
  models::Transformer model(models::ModelSpec::from_config(cfg.model(), cfg.parallel().tensor()));
  io::load_params(model.params(), io::load_safetensors(weights_path).tensors);
  auto tokenizer =
      data::make_tokenizer(cfg.data().tokenizer(), cfg.data().vocab_path(), cfg.data().merges_path());
  SampleOptions opt;
  opt.max_new_tokens = a.tokens;
  opt.temperature = a.temperature;
  opt.top_k = a.top_k;
  opt.seed = a.seed;
  opt.max_context = cfg.train().seq_len();  // positions past the trained length never trained
  opt.kv_cache = !a.no_kv_cache;
  const std::vector<uint32_t> prompt = tokenizer->encode(a.prompt);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<uint32_t> seq = generate(model, prompt, opt);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << tokenizer->decode(seq) << std::endl;
  // On stderr, so that stdout is the text alone.
  const size_t n = seq.size() - std::max<size_t>(prompt.size(), 1);  // an empty prompt starts from one token
  fmt::print(stderr, "{} tokens in {:.2f} s: {:.0f} tokens/s ({}, context {} tokens)\n", n, s,
             static_cast<double>(n) / s, uses_kv_cache(model, opt) ? "KV cache" : "no KV cache",
             opt.max_context);
}
}  // namespace

void register_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Sample text from a trained run directory");
  cmd->add_option("run_dir", args->run_dir, "Run directory written by `trident train --out DIR`")->required();
  cmd->add_option("--prompt", args->prompt, "Text to continue")->capture_default_str();
  cmd->add_option("--tokens", args->tokens, "Tokens to generate")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--temperature", args->temperature, "Sampling temperature (> 0)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--top-k", args->top_k, "Sample among the k most likely tokens (0: all; 1: greedy)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", args->seed, "Sampling seed")->capture_default_str();
  cmd->add_flag("--no-kv-cache", args->no_kv_cache,
                "Re-run the whole context for every token instead of decoding with a KV cache (same tokens)");
  cmd->footer(
      "The model sees at most the run's train.seq_len tokens of context at once (the length it trained at).\n"
      "Example:\n  trident generate runs/gpt2_tiny --prompt \"The \" --tokens 300");
  cmd->callback([args] { run_generate(*args); });
}

}  // namespace trident::cli
