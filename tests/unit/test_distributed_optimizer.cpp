// The DistributedOptimizer on one rank: its step is AdamW with the model's own gradients (fp32) or through
// fp32 master weights (bf16, fp16 with loss scaling), and its state_dict carries everything a resumed run
// needs: an optimizer rebuilt from a state_dict continues bit for bit like the one that wrote it.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "core/comm/local_communicator.h"
#include "core/optim/adamw.h"
#include "tests/unit/test_util.h"
#include "zero/distributed_optimizer.h"

namespace trident {
namespace {

using test::error_of;

void fill_grads(ParamSet& params, int s, double scale);

struct OptimizerRun {
  ParamSet params;
  comm::LocalCommunicator world{"world"}, tp{"tp"}, pp{"pp"}, dp{"dp"};
  std::unique_ptr<zero::DistributedOptimizer> opt;

  explicit OptimizerRun(DType dtype, double grad_clip = 0) {
    params.add("w", {4, 3}, {Init::normal, 0.0, 0.5});
    params.add("b", {3}, {Init::normal, 0.0, 0.5});
    params.finalize(dtype);
    params.initialize(11);
    zero::OptimizerConfig cfg;
    cfg.adamw = {0.9, 0.95, 1e-8, 0.1};
    cfg.grad_clip = grad_clip;
    if (dtype == DType::f16) cfg.scaler = LossScaler({1024.0, 2.0, 0.5, 2, 1.0});
    opt = std::make_unique<zero::DistributedOptimizer>(std::vector<zero::ChunkParams>{{&params, {}}},
                                                       zero::Groups{&world, &tp, &pp, &dp, nullptr}, cfg);
  }
  // Gradients of step s (scaled by the loss scale, as backward would write them), then the update.
  zero::DistributedOptimizer::StepResult step(int s) {
    opt->zero_grads();
    fill_grads(params, s, opt->loss_scale());
    return opt->step(1e-2);
  }
};

// Element i of the parameters in registration order gets sin(0.7 i + s) * scale / 100, whatever the layout.
void fill_grads(ParamSet& params, int s, double scale = 1.0) {
  int64_t i = 0;
  for (Param& p : params.params()) {
    Tensor g = Tensor::empty(p.grad.shape(), DType::f32);
    for (int64_t k = 0; k < g.numel(); ++k, ++i)
      g.data<float>()[k] = static_cast<float>(std::sin(0.7 * static_cast<double>(i) + s) * scale * 0.01);
    p.grad.copy_from(g);
  }
}

// Every parameter's value equal, compared by name (the two sets may lay their flat buffers out differently).
double max_difference(const ParamSet& a, const ParamSet& b) {
  double worst = 0;
  for (const Param& p : a.params()) worst = std::max(worst, relative_l2(p.value, b.find(p.name)->value));
  return worst;
}

TEST(DistributedOptimizer, Fp32StepIsAdamWWithClipping) {
  OptimizerRun run(DType::f32, /*grad_clip=*/0.01);
  ParamSet ref;
  ref.add("w", {4, 3}, {Init::normal, 0.0, 0.5});
  ref.add("b", {3}, {Init::normal, 0.0, 0.5});
  ref.finalize();
  ref.initialize(11);
  AdamW adamw(ref, {0.9, 0.95, 1e-8, 0.1});
  EXPECT_EQ(run.params.flat_params().numel() % zero::kAlign, 0) << "the optimizer pads its buckets";
  for (int s = 0; s < 3; ++s) {
    const auto r = run.step(s);
    fill_grads(ref, s);
    EXPECT_NEAR(r.grad_norm, clip_grad_norm(ref, 0.01), 1e-12);
    adamw.step(1e-2);
    EXPECT_EQ(max_difference(run.params, ref), 0.0) << "step " << s;
  }
}

// Two optimizers: A runs 5 steps; B runs 3, hands its state_dict to a fresh C (over parameters loaded from
// B), and C runs the last 2. C must end exactly where A did.
void check_resume(DType dtype) {
  OptimizerRun a(dtype), b(dtype), c(dtype);
  for (int s = 0; s < 5; ++s) a.step(s);
  for (int s = 0; s < 3; ++s) b.step(s);
  const auto state = b.opt->state_dict();
  EXPECT_EQ(state.at("step").item(0), 3.0);
  EXPECT_EQ(state.count("chunk0.master"), dtype == DType::f32 ? 0u : 1u);
  c.params.flat_params().copy_from(b.params.flat_params());
  c.opt->load_state_dict(state);
  for (int s = 3; s < 5; ++s) c.step(s);
  EXPECT_EQ(max_difference(c.params, a.params), 0.0);
  EXPECT_EQ(c.opt->loss_scale(), a.opt->loss_scale());
  if (dtype != DType::f32) {
    EXPECT_EQ(max_difference(c.opt->fp32_params(0), a.opt->fp32_params(0)), 0.0) << "fp32 masters";
  }
}

TEST(DistributedOptimizer, StateDictResumesBitForBitFp32) {
  check_resume(DType::f32);
}
TEST(DistributedOptimizer, StateDictResumesBitForBitBf16Masters) {
  check_resume(DType::bf16);
}
TEST(DistributedOptimizer, StateDictResumesBitForBitFp16LossScale) {
  check_resume(DType::f16);  // the scale grows every 2 good steps: it must continue, not restart
}

TEST(DistributedOptimizer, LoadStateDictNamesWhatIsMissingOrMisshapen) {
  OptimizerRun a(DType::f32), b(DType::f32);
  auto state = a.opt->state_dict();
  state.erase("chunk0.exp_avg");
  EXPECT_CONTAINS(error_of([&] { b.opt->load_state_dict(state); }),
                  "optimizer state has no 'chunk0.exp_avg'");
  state = a.opt->state_dict();
  state["chunk0.exp_avg_sq"] = Tensor::zeros({3, 4});
  EXPECT_CONTAINS(error_of([&] { b.opt->load_state_dict(state); }),
                  "optimizer state 'chunk0.exp_avg_sq' has shape (3, 4), this rank's shard is (64)");
}

}  // namespace
}  // namespace trident
