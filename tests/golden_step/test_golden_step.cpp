// The golden fixtures through the real training step: ParallelModel and the pipeline executor, the code
// `trident train` runs, against the PyTorch twin's float64 run of the same 10 steps (tools/reference/
// make_golden.py, the *_step fixtures): each step a fresh global batch of 8 sequences taken as 4
// micro-batches of 2, gradient accumulation, clipping off, so a gradient off by any factor shows in the grad
// norm at every step. This checks what the model-level golden tests cannot: the executor's 1/m loss scaling,
// the data-parallel average, the tied embedding summed across stages, the global norm over stages, and the LR
// schedule and AdamW as ParallelModel drives them.
//
// ctest runs this binary on one rank (golden.step.np1: one pipeline of 4 micro-batches) and under
// mpirun -np 2 (golden.step.np2: pp 2, 1F1B over the same 4 micro-batches; dp 2, 2 micro-batches per rank).
// Every rank checks every loss and grad norm; world rank 0 checks the gathered final weights. Bars: the
// golden ones (tests/golden/golden.h): loss 1e-5, grad norm 1e-4, final weights expect_final_weights's.
#include "core/comm/communicator.h"
#include "core/config/config.h"
#include "core/optim/lr_schedule.h"
#include "tests/golden/golden.h"
#include "tests/multirank/multirank.h"
#include "train/parallel_model.h"

namespace trident {
namespace {

void check_real_step(const std::string& name, const std::vector<std::string>& sets) {
  comm::Communicator& world = test::world();
  const std::string dir = std::string(TRIDENT_SOURCE_DIR) + "/tests/golden/";
  config::Config cfg = load_config(dir + name + ".json");
  apply_overrides(cfg, sets);
  // resolve() only: the fixture's vocabulary (67) is smaller than any tokenizer's, which validate() refuses,
  // and no data is read here. The layout's batch arithmetic is asserted below.
  resolve(cfg, world.size());
  const io::TensorFile fixture = io::load_safetensors(dir + name + ".safetensors");
  const auto at = [&](const std::string& key) -> const Tensor& { return fixture.tensors.at(key); };

  ParallelModel model(cfg, world);
  model.load_global(fixture.tensors, "param.");

  const auto& t = cfg.train();
  const auto& o = cfg.optim();
  const int64_t G = t.global_batch_size(), B = t.micro_batch_size(), T = t.seq_len();
  const int m = model.microbatches();
  ASSERT_EQ(at("input.tokens").shape(), (Shape{t.steps(), G, T}));
  ASSERT_EQ(int64_t{m} * B * model.dp().size(), G);
  const LrSchedule schedule{o.lr(), o.min_lr(), o.warmup_steps(), t.steps()};
  // This replica's sequences of the step's global batch: [dp rank * m * B, (dp rank + 1) * m * B).
  const int64_t first = model.dp().rank() * m * B;
  for (int64_t s = 0; s < t.steps(); ++s) {
    const auto batch = [&](int micro, Tensor& tokens, Tensor& targets) {
      const int64_t offset = (s * G + first + micro * B) * T;
      tokens = at("input.tokens").flat(offset, {B, T}).clone();
      targets = at("input.targets").flat(offset, {B, T}).clone();
    };
    EXPECT_NEAR(schedule.at(s), at("train.lrs").item(s), 1e-9) << "step " << s;
    const ParallelModel::StepResult r = model.train_step(schedule.at(s), batch);
    const double loss = at("train.losses").item(s), norm = at("train.grad_norms").item(s);
    EXPECT_NEAR(r.loss, loss, 1e-5 * loss) << "step " << s;
    EXPECT_NEAR(r.grad_norm, norm, 1e-4 * norm) << "step " << s;
  }
  const std::map<std::string, Tensor> weights = model.gather_to_main();
  if (world.rank() == 0) golden::expect_final_weights(fixture, weights);
}

class GoldenStep : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenStep, SingleRank) {
  if (test::world().size() != 1) GTEST_SKIP() << "needs 1 rank";
  check_real_step(GetParam(), {});
}

TEST_P(GoldenStep, PipelineParallel2) {
  if (test::world().size() != 2) GTEST_SKIP() << "needs 2 ranks (mpirun -np 2)";
  check_real_step(GetParam(), {"parallel.pipeline=2", "train.schedule=1f1b"});
}

TEST_P(GoldenStep, DataParallel2) {
  if (test::world().size() != 2) GTEST_SKIP() << "needs 2 ranks (mpirun -np 2)";
  check_real_step(GetParam(), {"parallel.data=2"});
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenStep, ::testing::Values("gpt2_step", "llama_step"));

}  // namespace
}  // namespace trident
