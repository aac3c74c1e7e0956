// ZeRO stages 0-3 on every rank of the world (dp = world size): the model state each rank holds, by memory
// category, against the stage's formula (zero/memory_report.h), and the data-parallel communication of one
// training step, from the communicator's log, against the stage's schedule. The model is big enough that
// padding is small: LLaMA, 8 layers, d_model 256 (3.9M parameters).
//   memory: parameters + gradients + optimizer state within 5% of the formula, buffers reported apart;
//   communication per step, with m micro-batches per rank and P the padded flat buffer (elements):
//     stage 0: all-reduce P;  stage 1: reduce-scatter P + all-gather P (DDP's volume, as a ring moves it);
//     stage 2: reduce-scatter m·P + all-gather P;  stage 3: all-gathers 2m·P (each unit before its forward
//     and its backward) + reduce-scatter m·P.
// (OpTotals count what a rank passes in: a reduce-scatter's whole input, an all-gather's own block of P/N.)
#include <cmath>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/runtime/memory_stats.h"
#include "tests/multirank/multirank.h"
#include "train/parallel_model.h"
#include "zero/memory_report.h"

namespace trident::test {
namespace {

config::Config zero_config(int stage, const std::string& precision, int micro_per_rank) {
  config::Config cfg = load_config(std::string(TRIDENT_SOURCE_DIR) + "/configs/llama_tiny.pbtxt");
  const int dp = world().size();
  apply_overrides(
      cfg, {"model.n_layer=8", "model.d_model=256", "model.n_head=8", "model.n_kv_head=4", "train.seq_len=16",
            "train.micro_batch_size=1", "train.global_batch_size=" + std::to_string(dp * micro_per_rank),
            "train.precision=" + precision, "parallel.zero_stage=" + std::to_string(stage),
            "parallel.bucket_mb=1"});
  resolve(cfg, dp);
  return cfg;
}

class Zero : public ::testing::TestWithParam<int> {};

TEST_P(Zero, ModelStateMatchesTheFormula) {
  const int stage = GetParam();
  for (const std::string precision : {"fp32", "bf16"}) {
    SCOPED_TRACE(precision);
    const config::Config cfg = zero_config(stage, precision, 2);
    const std::vector<int64_t> before = zero::memory_baseline(Device::cpu());
    ParallelModel model(cfg, world());
    const zero::DistributedOptimizer& opt = model.optimizer();
    const zero::MemoryReport r =
        zero::memory_report(opt.stage(), opt.mixed(), opt.mixed() && model.microbatches() > 1,
                            model.local_numel(), opt.shards(), Device::cpu(), before);
    if (world().rank() == 0) std::printf("%s\n", r.table().c_str());
    EXPECT_EQ(opt.shards(), stage == 0 || world().size() == 1 ? 1 : world().size());
    EXPECT_NEAR(static_cast<double>(r.state_measured()), r.state_formula(), 0.05 * r.state_formula())
        << r.table();
    for (size_t i = 0; i < 3; ++i)
      EXPECT_NEAR(static_cast<double>(r.rows[i].measured), r.rows[i].formula, 0.05 * r.state_formula())
          << memory_category_name(r.rows[i].category) << "\n"
          << r.table();
  }
}

TEST_P(Zero, DataParallelTrafficPerStep) {
  const int stage = GetParam(), m = 2;
  const config::Config cfg = zero_config(stage, "fp32", m);
  ParallelModel model(cfg, world());
  const int n = world().size();
  if (n == 1) GTEST_SKIP() << "one rank: nothing to reduce";
  const zero::FlatLayout& layout = model.optimizer().layout(0);
  const int64_t P = layout.total, buckets = static_cast<int64_t>(layout.buckets.size());
  const auto batch = [&](int micro, Tensor& tokens, Tensor& targets) {
    tokens = Tensor::empty({1, 16}, DType::i32);
    targets = Tensor::empty({1, 16}, DType::i32);
    for (int64_t i = 0; i < 16; ++i) {
      tokens.data<int32_t>()[i] = static_cast<int32_t>((7 * i + 3 * micro + world().rank()) % 257);
      targets.data<int32_t>()[i] = static_cast<int32_t>((5 * i + micro) % 257);
    }
  };
  model.train_step(1e-3, batch);  // the first step sets up lazily made buffers; count the second
  const comm::CommLog& log = model.dp().log();
  log.reset_totals();
  model.train_step(1e-3, batch);
  const auto totals = log.totals();
  const auto elements = [&](const char* op) { return totals.count(op) ? totals.at(op).elements : 0; };
  const auto calls = [&](const char* op) { return totals.count(op) ? totals.at(op).calls : 0; };
  switch (stage) {
    case 0:
      EXPECT_EQ(elements("reduce_scatter"), 0);
      EXPECT_EQ(elements("all_gather"), 0);
      EXPECT_EQ(calls("all_reduce"), buckets + 1);  // every bucket, and the step's loss
      EXPECT_EQ(elements("all_reduce"), P + 1);
      break;
    case 1:
    case 2:
      EXPECT_EQ(elements("reduce_scatter"), (stage == 2 ? m : 1) * P);
      EXPECT_EQ(calls("reduce_scatter"), (stage == 2 ? m : 1) * buckets);
      EXPECT_EQ(elements("all_gather"), P / n);
      EXPECT_EQ(calls("all_gather"), buckets);
      break;
    case 3:
      EXPECT_EQ(buckets, 10) << "the embedding, 8 blocks and the head: a unit per bucket";
      EXPECT_EQ(elements("reduce_scatter"), m * P);
      EXPECT_EQ(elements("all_gather"), 2 * m * P / n);
      EXPECT_EQ(calls("all_gather"), 2 * m * buckets);
      break;
  }
  // Whatever the stage, nothing but the loss and the global norm is all-reduced besides stage 0's buckets.
  if (stage > 0) {
    EXPECT_EQ(calls("all_reduce"), 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Stages, Zero, ::testing::Values(0, 1, 2, 3));

// Stage 3's prefetch, from the step's trace (what step_trace.json shows): with parallel.zero_prefetch 1 the
// gather of unit u + 1 is in flight while unit u computes (forward up, backward down); with 0 every gather
// completes before its own unit starts, and none overlaps another unit's compute.
int gathers_overlapping_compute(int prefetch) {
  config::Config cfg = zero_config(3, "fp32", 1);
  apply_overrides(cfg, {"parallel.zero_prefetch=" + std::to_string(prefetch)});
  ParallelModel model(cfg, world());
  const auto batch = [&](int /*micro*/, Tensor& tokens, Tensor& targets) {
    tokens = Tensor::zeros({1, 16}, DType::i32);
    targets = Tensor::zeros({1, 16}, DType::i32);
  };
  model.train_step(1e-3, batch);
  std::vector<zero::CommEvent> gathers, computes;
  for (const zero::CommEvent& e : model.optimizer().comm_trace().events()) {
    if (e.op == "all_gather") gathers.push_back(e);
    if (e.op == "forward" || e.op == "backward") computes.push_back(e);
  }
  EXPECT_EQ(gathers.size(), 2 * model.optimizer().layout(0).buckets.size());
  int overlapping = 0;
  for (const zero::CommEvent& g : gathers)
    for (const zero::CommEvent& c : computes)
      if (c.first_unit != g.first_unit && g.start_s < c.end_s && c.start_s < g.end_s) ++overlapping;
  return overlapping;
}

TEST(Zero, Stage3PrefetchOverlapsTheUnitsComputing) {
  if (world().size() == 1) GTEST_SKIP() << "one rank: nothing is sharded";
  EXPECT_GT(gathers_overlapping_compute(1), 0);
  EXPECT_EQ(gathers_overlapping_compute(0), 0);
}

}  // namespace
}  // namespace trident::test
