// Expert parallelism: an MoE layer whose experts are split over the ranks (ep = world size, each rank feeding
// its own tokens) computes for every rank's tokens exactly what one layer holding every expert computes;
// each rank's expert gradients are the sum over ranks of the whole layer's gradients for its experts; and the
// all-to-alls move exactly the rows the routing implies, forward and backward. An expert that no token picks
// on any rank keeps an exactly zero gradient.
#include <random>

#include "moe/moe_layer.h"
#include "tests/multirank/multirank.h"
#include "tests/unit/ops_test_util.h"

namespace trident {
namespace {

using test::world;

constexpr int64_t kTokens = 24, kChannels = 8;

moe::MoeSpec spec_for(int experts, double capacity) {
  moe::MoeSpec s;
  s.num_experts = experts;
  s.top_k = 2;
  s.d_ff_expert = 6;
  s.capacity_factor = capacity;
  s.aux_loss_coeff = 0.3;
  s.z_loss_coeff = 0.2;
  return s;
}

struct Run {
  ParamSet dense, experts;
  std::unique_ptr<moe::MoeLayer> layer;
  moe::MoeActs acts;
  Tensor y, dx;

  Run(const moe::MoeSpec& spec, bool gpt2, moe::ExpertGroup ep) {
    layer = std::make_unique<moe::MoeLayer>(dense, experts, "moe", spec, kChannels, gpt2, 0.7, 0.5,
                                            tp::TpGroup{}, false, ep);
    dense.finalize(DType::f64);
    dense.initialize(7);  // the same values on every rank and layout: a function of (name, global index)
    if (!experts.params().empty()) {
      experts.finalize(DType::f64);
      experts.initialize(7);
    }
  }
  void run(const Tensor& x, const Tensor& dy) {
    y = Tensor::empty(x.shape(), DType::f64);
    dx = Tensor::empty(x.shape(), DType::f64);
    layer->forward(acts, y, x);
    layer->backward(dx, dy, acts, 1.0);
  }
  ParamSet& expert_set() { return experts.params().empty() ? dense : experts; }
};

void check_expert_parallel(bool gpt2, double capacity, bool idle_expert, int per_rank = 2) {
  const int P = world().size();
  if (P == 1) GTEST_SKIP() << "one rank: no expert parallelism";
  const int E = per_rank * P;
  const moe::MoeSpec spec = spec_for(E, capacity);
  std::mt19937 gen(100 + world().rank());  // each rank its own tokens
  Tensor x = test::randn({kTokens, kChannels}, gen);
  const Tensor dy = test::randn({kTokens, kChannels}, gen);

  Run whole(spec, gpt2, {});
  Run split(spec, gpt2, moe::ExpertGroup::of(world()));
  if (idle_expert) {  // feature 0 is 10 on every token, and expert 1's router weight on it -50: no token on
                      // any rank picks expert 1
    for (int64_t t = 0; t < kTokens; ++t) x.data<double>()[t * kChannels] = 10.0;
    for (Run* r : {&whole, &split})
      r->dense.get("moe.router.weight").value.data<double>()[1 * kChannels] = -50.0;
  }
  whole.run(x, dy);
  world().log().reset_totals();
  split.run(x, dy);
  const auto totals = world().log().totals();

  EXPECT_LE(relative_l2(split.y, whole.y), 1e-13);
  EXPECT_LE(relative_l2(split.dx, whole.dx), 1e-13);
  EXPECT_LE(relative_l2(split.dense.get("moe.router.weight").grad, whole.dense.get("moe.router.weight").grad),
            1e-13);
  // Expert e's gradient on its rank: the sum over every rank's tokens of the whole layer's gradient.
  const int64_t local = E / P, q = world().rank();
  for (const Param& p : split.experts.params()) {
    Tensor sum = whole.dense.get(p.name).grad.clone();
    world().all_reduce(sum, comm::ReduceOp::sum);
    const Tensor mine = sum.narrow0(q * local, (q + 1) * local);
    EXPECT_LE(relative_l2(p.grad, mine), 1e-13) << p.name;
    if (idle_expert && q == 1 / local) {
      const Tensor g = p.grad.narrow0(1 % local, 1 % local + 1);  // expert 1's slice on its rank
      for (int64_t i = 0; i < g.numel(); ++i) ASSERT_EQ(g.item(i), 0.0) << p.name << " element " << i;
    }
  }
  if (idle_expert) {
    EXPECT_EQ(whole.acts.routing.expert_offset[2] - whole.acts.routing.expert_offset[1], 0);
  }

  // Rows this rank sends (its kept assignments) and receives (every rank's for its experts), from routing.
  const std::vector<int64_t>& offset = whole.acts.routing.expert_offset;
  Tensor counts = Tensor::empty({E}, DType::f64);
  for (int e = 0; e < E; ++e) counts.data<double>()[e] = static_cast<double>(offset[e + 1] - offset[e]);
  Tensor all = Tensor::empty({E * P}, DType::f64);
  world().all_gather(all, counts);
  int64_t received = 0;
  for (int s = 0; s < P; ++s)
    for (int64_t e = q * local; e < (q + 1) * local; ++e)
      received += static_cast<int64_t>(all.item(s * E + e));
  const int64_t sent = offset[E];
  // Forward: dispatch sends the rows out, combine sends the experts' results back; backward mirrors both.
  ASSERT_TRUE(totals.count("all_to_allv"));
  EXPECT_EQ(totals.at("all_to_allv").calls, 4);
  EXPECT_EQ(totals.at("all_to_allv").elements, 2 * (sent + received) * kChannels);
  ASSERT_TRUE(totals.count("all_to_all"));
  EXPECT_EQ(totals.at("all_to_all").calls, 1) << "the row counts, exchanged once per forward";
  EXPECT_EQ(totals.at("all_to_all").elements, E);
  if (capacity > 0) {
    EXPECT_GT(whole.acts.dropped, 0);
  }
}

TEST(ExpertParallel, GeluExpertsDropless) {
  check_expert_parallel(/*gpt2=*/true, 0.0, false);
}

TEST(ExpertParallel, SwigluExpertsWithCapacityDrops) {
  check_expert_parallel(/*gpt2=*/false, 0.6, false);
}

TEST(ExpertParallel, AnExpertNoRankRoutesToHasAZeroGradient) {
  check_expert_parallel(/*gpt2=*/true, 0.0, true);
}

TEST(ExpertParallel, OneExpertPerRank) {
  check_expert_parallel(/*gpt2=*/false, 0.0, false, /*per_rank=*/1);
  check_expert_parallel(/*gpt2=*/true, 0.6, false, /*per_rank=*/1);
  // An idle expert needs more experts than a token picks (top 2).
  if (world().size() > 2) check_expert_parallel(/*gpt2=*/true, 0.0, true, /*per_rank=*/1);
}

}  // namespace
}  // namespace trident
