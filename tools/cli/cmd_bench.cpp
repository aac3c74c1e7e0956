// trident bench train CONFIG: training-step throughput of Trident, and of the PyTorch twin on the same shapes
// and threads when PyTorch is installed.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "core/runtime/memory_stats.h"

#include <nlohmann/json.hpp>

#include "core/optim/adamw.h"
#include "core/runtime/rng.h"
#include "core/runtime/threads.h"
#include "models/transformer.h"
#include "tools/cli/commands.h"
#include "tools/cli/config_args.h"

namespace trident::cli {

namespace {

struct BenchArgs {
  ConfigArgs config;
  int steps = 10;
  int warmup = 2;
  bool torch = true;
};

struct BenchRow {
  std::string impl;
  double step_ms = 0, tokens_per_s = 0;
  double peak_mb = -1;  // -1: not measured
};

BenchRow bench_trident(const config::Config& cfg, const BenchArgs& a) {
  const auto spec = models::ModelSpec::from_config(cfg.model());
  const int64_t B = cfg.train().micro_batch_size(), T = cfg.train().seq_len();
  reset_peak_memory(Device::cpu());
  const int64_t before = memory_stats(Device::cpu()).current;
  models::Transformer model(spec);
  model.params().initialize(cfg.train().seed());
  AdamW optim(model.params(), {});
  Tensor tokens = Tensor::empty({B, T}, DType::i32), targets = Tensor::empty({B, T}, DType::i32);
  const CounterRng rng(1, "bench");
  for (int64_t i = 0; i < B * T; ++i) {
    tokens.data<int32_t>()[i] = static_cast<int32_t>(rng.u64(2 * i) % spec.vocab);
    targets.data<int32_t>()[i] = static_cast<int32_t>(rng.u64(2 * i + 1) % spec.vocab);
  }
  models::ModelActs acts;
  auto step = [&] {
    model.params().zero_grads();
    model.forward(acts, tokens, targets);
    model.backward(acts, 1.0);
    clip_grad_norm(model.params(), 1.0);
    optim.step(1e-4);
  };
  for (int i = 0; i < a.warmup; ++i) step();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < a.steps; ++i) step();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / a.steps;
  const double peak_mb = static_cast<double>(memory_stats(Device::cpu()).peak - before) / (1 << 20);
  return {"trident", s * 1e3, static_cast<double>(B * T) / s, peak_mb};
}

// Runs tools/reference/bench_twin.py; returns false (with the reason) when PyTorch is not available.
bool bench_torch(const config::Config& cfg, const BenchArgs& a, int threads, BenchRow& row,
                 std::string& why) {
  const auto spec = models::ModelSpec::from_config(cfg.model());
  const std::string cmd = fmt::format(
      "python3 {}/tools/reference/bench_twin.py --arch {} --n-layer {} --d-model {} --n-head {} --n-kv-head "
      "{} "
      "--d-ff {} --vocab {} --seq-len {} --batch {} --steps {} --warmup-steps {} --threads {} 2>&1",
      TRIDENT_SOURCE_DIR, cfg.model().arch(), spec.n_layer, spec.d_model, spec.n_head, spec.n_kv_head,
      spec.d_ff, spec.padded_vocab, cfg.train().seq_len(), cfg.train().micro_batch_size(), a.steps, a.warmup,
      threads);
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    why = "cannot start python3";
    return false;
  }
  std::string out, last;
  char buf[4096];
  while (fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  const int rc = pclose(pipe);
  for (size_t pos = 0, next; pos < out.size(); pos = next + 1) {
    next = out.find('\n', pos);
    if (next == std::string::npos) next = out.size();
    if (next > pos) last = out.substr(pos, next - pos);
  }
  if (rc != 0) {
    why = last.empty() ? "python3 failed" : last;
    return false;
  }
  try {
    const auto j = nlohmann::json::parse(last);
    row = {"pytorch " + j.value("torch", std::string("?")) + " eager", j.at("step_ms").get<double>(),
           j.at("tokens_per_s").get<double>()};
  } catch (const std::exception& e) {
    why = "unexpected output from bench_twin.py: " + last;
    return false;
  }
  return true;
}

void run_bench_train(const BenchArgs& a) {
  config::Config cfg = a.config.load();
  const int threads = set_cpu_threads(cfg.runtime().threads());
  const auto spec = models::ModelSpec::from_config(cfg.model());
  const int64_t B = cfg.train().micro_batch_size(), T = cfg.train().seq_len();
  const double flops_per_token = spec.flops_per_token(T);
  fmt::print("trident bench train: {} {} | {:.1f}M params | B={} T={} | {} CPU threads | {} timed steps\n",
             cfg.model().arch(), a.config.path, static_cast<double>(spec.num_params()) / 1e6, B, T, threads,
             a.steps);
  if (cfg.train().precision() != "fp32") {
    // On CPU bf16/fp16 are storage formats computed in fp32 (slower, for testing); the benchmark measures
    // fp32.
    fmt::print("note: train.precision '{}' is measured as fp32 here (the CPU backend computes in fp32)\n",
               cfg.train().precision());
  }
  fmt::print("FLOPs/token = 6N + 6*L*T*C = {:.3f} MFLOP (N = {:.1f}M matmul parameters)\n",
             flops_per_token / 1e6, (flops_per_token - 6.0 * spec.n_layer * T * spec.d_model) / 6e6);
  std::vector<BenchRow> rows{bench_trident(cfg, a)};
  std::string why;
  BenchRow torch_row;
  if (a.torch) {
    if (bench_torch(cfg, a, threads, torch_row, why)) {
      rows.push_back(torch_row);
    } else {
      fmt::print("PyTorch twin not run: {}\n", why);
    }
  }
  fmt::print("\n| {:<28} | {:>10} | {:>12} | {:>9} | {:>12} | {:>9} |\n", "implementation", "step ms",
             "tokens/s", "GFLOP/s", "trident/this", "peak MB");
  fmt::print("|{:-<30}|{:->12}|{:->14}|{:->11}|{:->14}|{:->11}|\n", "", "", "", "", "", "");
  for (const BenchRow& r : rows) {
    fmt::print("| {:<28} | {:>10.1f} | {:>12.0f} | {:>9.2f} | {:>12.2f} | {:>9} |\n", r.impl, r.step_ms,
               r.tokens_per_s, r.tokens_per_s * flops_per_token / 1e9, rows[0].tokens_per_s / r.tokens_per_s,
               r.peak_mb < 0 ? std::string("-") : fmt::format("{:.1f}", r.peak_mb));
  }
  // The floor for the state alone: fp32 parameters, gradients and AdamW's two moments, 16 bytes a parameter;
  // the rest of Trident's peak is activations and scratch.
  fmt::print(
      "\npeak MB: tensor storage Trident allocated (core/runtime/memory_stats.h); floor for parameters + "
      "gradients + AdamW moments = 16 B x {:.2f}M = {:.1f} MB\n",
      static_cast<double>(spec.num_params()) / 1e6,
      16.0 * static_cast<double>(spec.num_params()) / (1 << 20));
}

}  // namespace

void register_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks that print tables (never timed tests)");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchArgs>();
  CLI::App* train =
      bench->add_subcommand("train", "Training-step throughput (forward, backward, AdamW) vs PyTorch");
  args->config.add_to(*train);
  train->add_option("--steps", args->steps, "Timed steps")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  train->add_option("--warmup", args->warmup, "Untimed warmup steps")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  train->add_flag("!--no-torch", args->torch, "Skip the PyTorch twin");
  train->footer(
      "Uses random tokens, so no data is needed. Examples:\n"
      "  trident bench train configs/gpt2_tiny.pbtxt\n"
      "  trident bench train configs/gpt2_124m.pbtxt --set train.micro_batch_size=4 --set train.seq_len=64 "
      "\\\n"
      "      --set train.precision=fp32 --set runtime.device=cpu");
  train->callback([args] { run_bench_train(*args); });
  register_bench_comm(*bench);
}

}  // namespace trident::cli
