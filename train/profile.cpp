#include "train/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <memory>

#include "core/data/sampler.h"
#include "core/data/shard.h"
#include "core/optim/lr_schedule.h"
#include "core/runtime/clock.h"
#include "core/runtime/devices.h"
#include "core/runtime/error.h"
#include "core/runtime/span_clock.h"
#include "core/runtime/threads.h"
#include "train/parallel_model.h"
#include "train/trace_writer.h"

namespace trident {

namespace {

// N of 6N: the weights of every GEMM a token goes through (q, k, v, the attention projection, the MLP's and
// the head's), counted once each; lookups, biases and norms are not multiplications by a weight matrix.
double gemm_weights(const models::ModelSpec& s) {
  const double C = s.d_model, D = static_cast<double>(s.d_model) / s.n_head, F = s.d_ff;
  const double attn = C * (s.n_head + 2.0 * s.n_kv_head) * D + s.n_head * D * C;
  const double mlp = (s.gpt2() ? 1.0 : 2.0) * C * F + F * C;
  return s.n_layer * (attn + mlp) + static_cast<double>(s.padded_vocab) * C;
}

// Sums the records of the recorded steps into per-kind rows (per step).
void tabulate(StepProfile& p, const std::vector<std::pair<double, double>>& steps) {
  constexpr size_t K = static_cast<size_t>(spans::Kind::count);
  std::array<ProfileRow, K> rows;
  std::array<bool, K> seen{};
  double busy = 0;
  for (const spans::Record& r : p.records) {
    if (r.kind == spans::Kind::pipeline) continue;  // the trace's schedule row; its compute is in the modules
    const auto k = static_cast<size_t>(r.kind);
    ProfileRow& row = rows[k];
    seen[k] = true;
    if (!r.track.empty()) {  // an async collective's whole flight
      row.in_flight_s += r.end_s - r.start_s;
      row.bytes += r.bytes;
      continue;
    }
    row.time_s += r.self_s;
    busy += r.self_s;
    if (!spans::is_comm(r.kind)) row.bytes += r.bytes;
    (r.phase == spans::Phase::backward ? row.bwd_flops : row.fwd_flops) += r.flops;
  }
  double wall = 0;
  for (const auto& [a, b] : steps) wall += b - a;
  const double n = static_cast<double>(steps.size());
  for (size_t k = 0; k < K; ++k) {
    if (!seen[k]) continue;
    ProfileRow row = rows[k];
    row.name = spans::kind_name(static_cast<spans::Kind>(k));
    row.comm = spans::is_comm(static_cast<spans::Kind>(k));
    for (double* v : {&row.fwd_flops, &row.bwd_flops, &row.bytes, &row.time_s, &row.in_flight_s}) *v /= n;
    p.rows.push_back(row);
  }
  ProfileRow idle;
  idle.name = "idle / wait";  // the step's time no span covers: scheduling, copies, host work between ops
  idle.time_s = (wall - busy) / n;
  p.rows.push_back(idle);
  p.step_s = wall / n;
}

}  // namespace

StepProfile profile_steps(const config::Config& cfg, comm::Communicator& world, int steps) {
  if (steps < 1) fail("--steps {}: profile at least one step", steps);
  set_cpu_threads(cfg.runtime().threads());
  const auto& t = cfg.train();
  data::TokenShard shard(cfg.data().train_path());
  shard.check_vocab(cfg.model().vocab_size());
  data::TrainSampler sampler(shard, t.seq_len(), t.seed());
  ParallelModel pm(cfg, world);
  const LrSchedule schedule{cfg.optim().lr(), cfg.optim().min_lr(), cfg.optim().warmup_steps(), t.steps()};
  const int64_t B = t.micro_batch_size();
  const int m = pm.microbatches();

  const ScopedSpanClock clock(resolve_device(cfg.runtime().device()));  // CUDA events on a GPU
  StepProfile p;
  std::vector<std::pair<double, double>> times;
  std::vector<pp::StepTimes> pipeline;         // the executor's own events, for the trace
  for (int step = 0; step <= steps; ++step) {  // step 0 warms up (allocations, caches) and is not recorded
    const int64_t first = pm.dp().rank() * B * m;
    const auto batch = [&](int micro, Tensor& tokens, Tensor& targets) {
      sampler.fill(step, first + micro * B, B, tokens, targets);
    };
    world.barrier();  // the ranks start each step together, so one rank's lag is not another's wait
    if (step == 1) {
      spans::take();
      spans::enable(true);
      p.t0_s = now_s();
    }
    const double start = now_s();
    const ParallelModel::StepResult r = pm.train_step(schedule.at(step), batch);
    if (step >= 1) {
      times.emplace_back(start, now_s());
      pipeline.push_back(r.times);
    }
  }
  spans::enable(false);
  p.records = spans::take();
  for (const pp::StepTimes& s : pipeline) add_pipeline_events(p.records, s);
  p.steps = steps;
  // Tokens this rank's stages see per step: its replica's share of the global batch.
  p.tokens = static_cast<double>(B) * m * t.seq_len();
  const models::ModelSpec& spec = pm.spec();
  p.matmul_weights = gemm_weights(spec);
  p.model_flops_per_token = 6.0 * p.matmul_weights + 6.0 * spec.n_layer * t.seq_len() * spec.d_model;
  p.moe = spec.moe.enabled();
  p.recompute = spec.recompute;
  tabulate(p, times);
  return p;
}

std::string format_profile(const StepProfile& p, int rank) {
  std::string s = fmt::format(
      "profile of rank {}: {} step{} after one warm-up, {:.1f} ms per step, {} tokens per step on this "
      "rank\n",
      rank, p.steps, p.steps == 1 ? "" : "s", p.step_s * 1e3, p.tokens);
  s += fmt::format("{:<16} {:>11} {:>11} {:>10} {:>10} {:>9} {:>7} {:>11}\n", "module", "fwd GFLOP",
                   "bwd GFLOP", "time ms", "GFLOP/s", "GB/s", "share", "flight ms");
  double flops = 0, share = 0;
  for (const ProfileRow& r : p.rows) {
    const double f = r.fwd_flops + r.bwd_flops;
    flops += f;
    const double pct = p.step_s > 0 ? 100.0 * r.time_s / p.step_s : 0.0;
    share += pct;
    // Memory-bound kinds show bytes over their time; a collective its buffers over its flight (bus-agnostic).
    const double t = r.comm ? r.in_flight_s : r.time_s;
    const std::string rate = f > 0 && r.time_s > 0 ? fmt::format("{:.2f}", f / r.time_s / 1e9) : "-";
    const std::string bw = f == 0 && r.bytes > 0 && t > 0 ? fmt::format("{:.2f}", r.bytes / t / 1e9) : "-";
    const std::string flight = r.comm ? fmt::format("{:.3f}", r.in_flight_s * 1e3) : "-";
    s += fmt::format("{:<16} {:>11.4f} {:>11.4f} {:>10.3f} {:>10} {:>9} {:>6.1f}% {:>11}\n", r.name,
                     r.fwd_flops / 1e9, r.bwd_flops / 1e9, r.time_s * 1e3, rate, bw, pct, flight);
  }
  s += fmt::format("{:<16} {:>23.4f} {:>10.3f} {:>10.2f} {:>9} {:>6.1f}%\n", "total", flops / 1e9,
                   p.step_s * 1e3, p.step_s > 0 ? flops / p.step_s / 1e9 : 0.0, "", share);
  if (p.moe) {
    s += "model: an MoE layer's FLOPs are its router's and experts' GEMMs on the rows routed this step; the "
         "dense "
         "formula 6N + 6*L*T*C does not apply\n";
    return s;
  }
  s += fmt::format(
      "model: 6N + 6*L*T*C = {:.4f} GFLOP per step on {} tokens (N = {:.0f} GEMM weights, the head's "
      "included, "
      "lookups not; the attention core causal); tensor and pipeline ranks share it\n",
      p.model_flops_per_token * p.tokens / 1e9, p.tokens, p.matmul_weights);
  if (p.recompute)
    s += "train.recompute full: every block's forward ran again before its backward, so the fwd column "
         "counts the blocks' FLOPs twice and the total exceeds the model's FLOPs (MFU counts them once)\n";
  return s;
}

}  // namespace trident
