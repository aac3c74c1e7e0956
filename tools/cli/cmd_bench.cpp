// trident bench train CONFIG: training-step throughput of Trident, and of the PyTorch twin on the same shapes
// and threads when PyTorch is installed. On the CPU (runtime.device cpu, or auto without a GPU): fp32, one
// table row per implementation. On a GPU (runtime.device cuda, or auto with one): Trident's mixed-precision
// step (train.precision parameters and activations, fp32 master weights and AdamW, through ParallelModel on a
// one-rank world) against the twin in PyTorch eager and torch.compile, with MFU and peak memory.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "core/runtime/memory_stats.h"

#include <nlohmann/json.hpp>

#include "core/comm/local_communicator.h"
#include "core/ops/ops.h"
#include "core/optim/adamw.h"
#include "core/runtime/cuda_memory.h"
#include "core/runtime/devices.h"
#include "core/runtime/rng.h"
#include "core/runtime/threads.h"
#include "models/transformer.h"
#include "tools/cli/commands.h"
#include "tools/cli/config_args.h"
#include "train/parallel_model.h"

#ifdef TRIDENT_WITH_CUDA
#include "core/runtime/cuda/stream.h"
#endif

namespace trident::cli {

namespace {

struct BenchArgs {
  ConfigArgs config;
  int steps = 10;
  int warmup = 2;
  bool torch = true;
  double peak_tflops = 989.0;  // H100 SXM, bf16 dense (no sparsity)
};

struct BenchRow {
  std::string impl;
  double step_ms = 0, tokens_per_s = 0;
  double peak_mb = -1;  // -1: not measured
};

// Random token ids in [0, vocab), the same on every run: the benchmark needs no data.
void random_tokens(Tensor& tokens, Tensor& targets, int64_t vocab) {
  const CounterRng rng(1, "bench");
  for (int64_t i = 0; i < tokens.numel(); ++i) {
    tokens.data<int32_t>()[i] = static_cast<int32_t>(rng.u64(2 * i) % vocab);
    targets.data<int32_t>()[i] = static_cast<int32_t>(rng.u64(2 * i + 1) % vocab);
  }
}

BenchRow bench_trident(const config::Config& cfg, const BenchArgs& a) {
  const auto spec = models::ModelSpec::from_config(cfg.model());
  const int64_t B = cfg.train().micro_batch_size(), T = cfg.train().seq_len();
  reset_peak_memory(Device::cpu());
  const int64_t before = memory_stats(Device::cpu()).current;
  models::Transformer model(spec);
  model.params().initialize(cfg.train().seed());
  AdamW optim(model.params(), {});
  Tensor tokens = Tensor::empty({B, T}, DType::i32), targets = Tensor::empty({B, T}, DType::i32);
  random_tokens(tokens, targets, spec.vocab);
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

// Runs the twin's command line; its last output line (a JSON record) in `last`. False, with the reason in
// `why` (its last line, usually the error), when python3 cannot start or the twin fails.
bool run_twin(const std::string& cmd, std::string& last, std::string& why) {
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    why = "cannot start python3";
    return false;
  }
  std::string out;
  char buf[4096];
  while (fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  const int rc = pclose(pipe);
  for (size_t pos = 0, next; pos < out.size(); pos = next + 1) {
    next = out.find('\n', pos);
    if (next == std::string::npos) next = out.size();
    if (next > pos) last = out.substr(pos, next - pos);
  }
  if (rc != 0) why = last.empty() ? "python3 failed" : last;
  return rc == 0;
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
  std::string last;
  if (!run_twin(cmd, last, why)) return false;
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

// ---- GPU ----------------------------------------------------------------------------------------------

struct GpuRow {
  BenchRow row;
  double reserved_mb = -1;  // Trident: the caching allocator's peak reserved bytes (what cudaMalloc holds)
};

#ifdef TRIDENT_WITH_CUDA
// Trident's training step on `device`: one micro-batch of B x T per step (the global batch is set to the
// micro-batch, as the CPU benchmark and the twin run it), through ParallelModel on a one-rank world, so the
// step is exactly `trident train`'s: train.precision parameters and activations, fp32 master weights,
// clipping and AdamW on the masters. Timed with CUDA events on the compute stream over the timed steps.
GpuRow bench_trident_cuda(config::Config cfg, const BenchArgs& a, Device device) {
  cfg.mutable_train()->set_global_batch_size(cfg.train().micro_batch_size());
  const int64_t B = cfg.train().micro_batch_size(), T = cfg.train().seq_len();
  comm::LocalCommunicator world;
  ParallelModel model(cfg, world);
  Tensor tokens = Tensor::empty({B, T}, DType::i32), targets = Tensor::empty({B, T}, DType::i32);
  random_tokens(tokens, targets, model.spec().vocab);
  const auto batch = [&](int, Tensor& tok, Tensor& tgt) {
    tok = tokens;  // host ids; the model copies them to its device
    tgt = targets;
  };
  const cudaStream_t stream = compute_stream(device.index);
  for (int i = 0; i < a.warmup; ++i) model.train_step(1e-4, batch);
  TRIDENT_CUDA_CHECK(cudaStreamSynchronize(stream));
  reset_peak_memory(device);  // the peak of the timed steps, from the live parameters and optimizer state
  CudaEvent start(/*timing=*/true), end(/*timing=*/true);
  start.record(stream);
  for (int i = 0; i < a.steps; ++i) model.train_step(1e-4, batch);
  end.record(stream);
  end.synchronize();
  const double ms = end.elapsed_ms_since(start) / a.steps;
  GpuRow r;
  r.row = {"trident", ms, static_cast<double>(B * T) / (ms / 1e3),
           static_cast<double>(memory_stats(device).peak) / (1 << 20)};
  r.reserved_mb = static_cast<double>(cuda_allocator_stats(device.index).peak_reserved) / (1 << 20);
  return r;
}

// The bf16 GEMM rate this GPU reaches through ops::matmul (cuBLASLt), TFLOP/s: the best of 10 products of
// 8192 x 8192 matrices (after 3 untimed ones), each timed with CUDA events. The denominator of issue-level
// goals such as "MFU >= 50% of the measured GEMM rate"; the data-sheet peak stays the MFU column's.
double measured_gemm_tflops(Device device) {
  constexpr int64_t n = 8192;
  const Tensor a = Tensor::full({n, n}, 0.5).to(DType::bf16).to(device);
  const Tensor b = Tensor::full({n, n}, 0.25).to(DType::bf16).to(device);
  Tensor c = Tensor::empty({n, n}, DType::bf16, device);
  const cudaStream_t stream = compute_stream(device.index);
  for (int i = 0; i < 3; ++i) ops::matmul(c, a, b);
  double best_ms = 1e30;
  for (int i = 0; i < 10; ++i) {
    CudaEvent start(/*timing=*/true), end(/*timing=*/true);
    start.record(stream);
    ops::matmul(c, a, b);
    end.record(stream);
    end.synchronize();
    best_ms = std::min(best_ms, static_cast<double>(end.elapsed_ms_since(start)));
  }
  return 2.0 * static_cast<double>(n) * n * n / (best_ms / 1e3) / 1e12;
}
#else
[[noreturn]] void no_cuda(Device device) {
  fail("trident bench train: {} needs the CUDA backend; this Trident was built without CUDA", device.str());
}
GpuRow bench_trident_cuda(const config::Config&, const BenchArgs&, Device device) {
  no_cuda(device);
}
double measured_gemm_tflops(Device device) {
  no_cuda(device);
}
#endif

// Runs the twin on the GPU (tools/reference/bench_twin.py --device cuda) in eager and torch.compile mode.
// Fills the rows that ran; `notes` says why a mode or the whole twin did not.
void bench_torch_cuda(const config::Config& cfg, const BenchArgs& a, std::vector<BenchRow>& rows,
                      std::vector<std::string>& notes) {
  const auto spec = models::ModelSpec::from_config(cfg.model());
  const std::string& precision = cfg.train().precision();
  const std::string cmd = fmt::format(
      "python3 {}/tools/reference/bench_twin.py --device cuda --precision {} --arch {} --n-layer {} "
      "--d-model {} --n-head {} --n-kv-head {} --d-ff {} --vocab {} --tie-embeddings {} --seq-len {} "
      "--batch {} --steps {} --warmup-steps {} 2>&1",
      TRIDENT_SOURCE_DIR, precision.empty() ? "fp32" : precision, cfg.model().arch(), spec.n_layer,
      spec.d_model, spec.n_head, spec.n_kv_head, spec.d_ff, spec.padded_vocab, spec.tie_embeddings ? 1 : 0,
      cfg.train().seq_len(), cfg.train().micro_batch_size(), a.steps, a.warmup);
  std::string last, why;
  if (!run_twin(cmd, last, why)) {
    notes.push_back("PyTorch twin not run: " + why);
    return;
  }
  try {
    const auto j = nlohmann::json::parse(last);
    const std::string version = j.value("torch", std::string("?"));
    for (const char* mode : {"eager", "compile"}) {
      if (!j.contains(mode)) continue;
      const auto& m = j.at(mode);
      if (m.contains("error")) {
        notes.push_back(fmt::format("PyTorch {} not run: {}", mode, m.at("error").get<std::string>()));
        continue;
      }
      rows.push_back({fmt::format("pytorch {} {}", version, mode), m.at("step_ms").get<double>(),
                      m.at("tokens_per_s").get<double>(), m.at("peak_mb").get<double>()});
    }
  } catch (const std::exception& e) {
    notes.push_back("unexpected output from bench_twin.py: " + last);
  }
}

void run_bench_train_cuda(const config::Config& cfg, const BenchArgs& a, Device device) {
  const auto spec = models::ModelSpec::from_config(cfg);
  const int64_t B = cfg.train().micro_batch_size(), T = cfg.train().seq_len();
  const double flops_per_token = spec.flops_per_token(T);
  std::string gpu = device.str();
  for (const CudaDeviceInfo& d : cuda_devices())
    if (d.index == device.index) gpu = fmt::format("{} ({})", d.name, device.str());
  const std::string& precision = cfg.train().precision().empty() ? "fp32" : cfg.train().precision();
  fmt::print(
      "trident bench train: {} {} | {:.1f}M params | B={} T={} | {} | {} parameters and activations{} | "
      "{} timed steps after {} warmup\n",
      cfg.model().arch(), a.config.path, static_cast<double>(spec.num_params()) / 1e6, B, T, gpu, precision,
      precision == "fp32" ? "" : ", fp32 master weights and AdamW", a.steps, a.warmup);
  fmt::print(
      "FLOPs/token = 6N + 6*L*T*C = {:.3f} MFLOP (N = {:.1f}M matmul parameters); MFU = tokens/s x "
      "FLOPs/token / {:.0f} TFLOP/s (--peak-tflops)\n",
      flops_per_token / 1e6, static_cast<double>(spec.matmul_params()) / 1e6, a.peak_tflops);
  const double gemm_tflops = measured_gemm_tflops(device);
  fmt::print(
      "bf16 GEMM rate measured now: {:.0f} TFLOP/s (ops::matmul, 8192 x 8192 x 8192, best of 10); "
      "MFU/GEMM = tokens/s x FLOPs/token / that rate\n",
      gemm_tflops);
  std::fflush(stdout);
  const GpuRow trident = bench_trident_cuda(cfg, a, device);
  // Trident's row comes out before PyTorch starts (a cold torch.compile can outlast a caller's time cap), and
  // its cached blocks go back to the driver so the twin has the GPU's memory to itself.
  cuda_empty_cache(device.index);
  fmt::print("\n| {:<28} | {:>10} | {:>12} | {:>9} | {:>7} | {:>8} | {:>12} | {:>9} |\n", "implementation",
             "step ms", "tokens/s", "TFLOP/s", "MFU", "MFU/GEMM", "trident/this", "peak MB");
  fmt::print("|{:-<30}|{:->12}|{:->14}|{:->11}|{:->9}|{:->10}|{:->14}|{:->11}|\n", "", "", "", "", "", "", "",
             "");
  const auto print_row = [&](const BenchRow& r) {
    const double tflops = r.tokens_per_s * flops_per_token / 1e12;
    fmt::print("| {:<28} | {:>10.1f} | {:>12.0f} | {:>9.1f} | {:>6.1f}% | {:>7.1f}% | {:>12.2f} | {:>9} |\n",
               r.impl, r.step_ms, r.tokens_per_s, tflops, 100.0 * tflops / a.peak_tflops,
               100.0 * tflops / gemm_tflops, trident.row.tokens_per_s / r.tokens_per_s,
               r.peak_mb < 0 ? std::string("-") : fmt::format("{:.0f}", r.peak_mb));
    std::fflush(stdout);
  };
  print_row(trident.row);
  std::vector<BenchRow> rows;
  std::vector<std::string> notes;
  if (a.torch) bench_torch_cuda(cfg, a, rows, notes);
  for (const BenchRow& r : rows) print_row(r);
  for (const std::string& n : notes) fmt::print("{}\n", n);
  for (const BenchRow& r : rows) {
    const bool compiled = r.impl.find("compile") != std::string::npos;
    fmt::print("{} = {:.2f} (throughput ratio; > 1: Trident is faster)\n",
               compiled ? "Trident / torch.compile" : "Trident / PyTorch eager",
               trident.row.tokens_per_s / r.tokens_per_s);
  }
  fmt::print(
      "\npeak MB: Trident, tensor storage live at once over the timed steps (core/runtime/memory_stats.h); "
      "its "
      "caching allocator's peak reserved (cudaMalloc'd) bytes: {:.0f} MB. PyTorch: "
      "torch.cuda.max_memory_allocated over the timed steps. Floor for bf16 parameters + gradients, fp32 "
      "master weights + AdamW moments = 16 B x {:.2f}M = {:.0f} MB\n",
      trident.reserved_mb, static_cast<double>(spec.num_params()) / 1e6,
      16.0 * static_cast<double>(spec.num_params()) / (1 << 20));
}

void run_bench_train(const BenchArgs& a) {
  config::Config cfg = a.config.load();
  if (const Device device = resolve_device(cfg.runtime().device()); device.is_cuda())
    return run_bench_train_cuda(cfg, a, device);
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
             flops_per_token / 1e6, static_cast<double>(spec.matmul_params()) / 1e6);
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
  train
      ->add_option("--peak-tflops", args->peak_tflops,
                   "GPU peak for MFU, TFLOP/s (default: H100 SXM bf16 dense; A100: 312, H200: 989)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  train->footer(
      "Uses random tokens, so no data is needed. runtime.device picks CPU or GPU (auto: the GPU when there "
      "is one).\nExamples:\n"
      "  trident bench train configs/gpt2_tiny.pbtxt\n"
      "  trident bench train configs/gpt2_124m.pbtxt --steps 20    (GPU: bf16, vs PyTorch eager and "
      "torch.compile)\n"
      "  trident bench train configs/gpt2_124m.pbtxt --set train.micro_batch_size=4 --set train.seq_len=64 "
      "\\\n"
      "      --set train.precision=fp32 --set runtime.device=cpu");
  train->callback([args] { run_bench_train(*args); });
  register_bench_comm(*bench);
}

}  // namespace trident::cli
