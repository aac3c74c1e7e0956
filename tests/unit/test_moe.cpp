// MoE: routing (top-k, ties, gates, capacity order, permutation), and the MoE layer's whole backward (router,
// auxiliary losses, experts, dispatch and combine) against central finite differences in double precision,
// dropless and with drops; the edge cases (an idle expert, top_k = num_experts, most tokens dropped).
#include <gtest/gtest.h>

#include <random>

#include "moe/moe_layer.h"
#include "tests/unit/ops_test_util.h"

namespace trident {
namespace {

using test::check_grad;
using test::dot_sum;
using test::randn;

moe::MoeSpec spec_of(int experts, int k, double capacity = 0.0, bool normalize = false) {
  moe::MoeSpec s;
  s.num_experts = experts;
  s.top_k = k;
  s.d_ff_expert = 6;
  s.capacity_factor = capacity;
  s.aux_loss_coeff = 0.3;  // large, so that the auxiliary losses' gradients are well above the check's floor
  s.z_loss_coeff = 0.2;
  s.normalize_topk = normalize;
  return s;
}

TEST(MoeRouting, TopKBreaksTiesByTheLowerExpertAndGatesAreProbabilities) {
  // Token 0: all logits equal -> experts 0 and 1. Token 1: expert 3 first, then 1 and 2 tie -> 1.
  const std::vector<double> logits = {0, 0, 0, 0, /**/ 0, 1, 1, 2};
  moe::Routing r = moe::route(logits, 2, spec_of(4, 2));
  EXPECT_EQ(r.expert, (std::vector<int32_t>{0, 1, 3, 1}));
  EXPECT_DOUBLE_EQ(r.gate[0], 0.25);
  const double z = std::exp(0) + 2 * std::exp(1) + std::exp(2);
  EXPECT_NEAR(r.gate[2], std::exp(2) / z, 1e-15);
  EXPECT_NEAR(r.gate[3], std::exp(1) / z, 1e-15);
  EXPECT_NEAR(r.lse[1], std::log(z), 1e-15);
  EXPECT_EQ(r.counts, (std::vector<int64_t>{1, 2, 0, 1}));
  moe::Routing n = moe::route(logits, 2, spec_of(4, 2, 0.0, /*normalize=*/true));
  EXPECT_NEAR(n.gate[2] + n.gate[3], 1.0, 1e-15);
  EXPECT_NEAR(n.gate[2], std::exp(2) / (std::exp(2) + std::exp(1)), 1e-15);
}

TEST(MoeRouting, CapacityDropsInTokenOrderAndThePermutationGroupsByExpert) {
  // Every token's choices: expert 2, then 0. Capacity 2: tokens 0 and 1 keep both, tokens 2 and 3 lose both.
  std::vector<double> logits;
  for (int t = 0; t < 4; ++t) logits.insert(logits.end(), {1.0, 0.0, 2.0});
  moe::MoeSpec spec = spec_of(3, 2, /*capacity=*/0.75);  // ceil(0.75 * 4 * 2 / 3) = 2
  ASSERT_EQ(spec.capacity(4), 2);
  moe::Routing r = moe::route(logits, 4, spec);
  moe::apply_capacity(r, spec.capacity(4));
  EXPECT_EQ(r.kept, (std::vector<uint8_t>{1, 1, 1, 1, 0, 0, 0, 0}));
  moe::permute(r);
  EXPECT_EQ(r.expert_offset, (std::vector<int64_t>{0, 2, 2, 4}));
  EXPECT_EQ(r.token_of_row, (std::vector<int32_t>{0, 1, 0, 1}));
  EXPECT_EQ(r.slot_of_row, (std::vector<int64_t>{1, 3, 0, 2}));
  EXPECT_EQ(r.dropped(), 4);
  // Under sequence parallelism a later rank continues the count: two earlier assignments of expert 2 fill
  // it, so all of this rank's go to expert 0 only... until it is full too.
  moe::Routing later = moe::route(logits, 4, spec);
  moe::apply_capacity(later, 2, {1, 0, 2});
  EXPECT_EQ(later.kept, (std::vector<uint8_t>{0, 1, 0, 0, 0, 0, 0, 0}));
}

// One MoE layer in f64 on R tokens of width C, with its parameters drawn at init scale `scale`.
struct Layer {
  ParamSet params;
  std::unique_ptr<moe::MoeLayer> layer;
  Tensor x;   // (R, C)
  Tensor dy;  // (R, C): the objective is sum(y * dy) + aux + z

  Layer(const moe::MoeSpec& spec, bool gpt2, int64_t R, int64_t C, uint32_t seed) {
    layer =
        std::make_unique<moe::MoeLayer>(params, params, "moe", spec, C, gpt2, 0.7, 0.5, tp::TpGroup{}, false);
    params.finalize(DType::f64);
    params.initialize(seed);
    std::mt19937 g(seed + 1);
    for (Param& p : params.params())  // biases start at zero; give them values so their terms count
      if (p.name.find("bias") != std::string::npos)
        p.value.copy_from(randn(p.value.shape(), g, DType::f64, 0.3));
    x = randn({R, C}, g);
    dy = randn({R, C}, g);
  }
  double objective(moe::MoeActs& acts) {
    Tensor y = Tensor::empty(x.shape(), DType::f64);
    layer->forward(acts, y, x);
    return dot_sum(y, dy) + acts.aux_loss + acts.z_loss;
  }
  // Runs forward + backward; returns dx, with every parameter's gradient accumulated from zero.
  Tensor backward(moe::MoeActs& acts, double loss_scale = 1.0) {
    params.zero_grads();
    objective(acts);
    Tensor dx = Tensor::empty(x.shape(), DType::f64);
    Tensor scaled = dy.clone();
    ops::scale_inplace(scaled, loss_scale);
    layer->backward(dx, scaled, acts, loss_scale);
    return dx;
  }
};

void check_layer_gradients(const moe::MoeSpec& spec, bool gpt2, uint32_t seed) {
  Layer l(spec, gpt2, /*R=*/12, /*C=*/8, seed);
  moe::MoeActs acts;
  const Tensor dx = l.backward(acts);
  if (spec.capacity_factor > 0) {
    ASSERT_GT(acts.dropped, 0) << "the capacity drops nothing: a weak check";
  }
  const moe::Routing before = acts.routing;
  const auto loss = [&] {
    moe::MoeActs a;
    const double j = l.objective(a);
    // A perturbation of 1e-6 must not change the routing, or the difference quotient is meaningless.
    EXPECT_EQ(a.routing.expert, before.expert);
    EXPECT_EQ(a.routing.kept, before.kept);
    return j;
  };
  check_grad("x", l.x, dx, loss);
  for (Param& p : l.params.params()) {
    SCOPED_TRACE(p.name);
    check_grad(p.name, p.value, p.grad.clone(), loss);
  }
}

TEST(MoeLayerGrad, GeluExpertsDroplessMatchFiniteDifferences) {
  check_layer_gradients(spec_of(4, 2), /*gpt2=*/true, 11);
}

TEST(MoeLayerGrad, SwigluExpertsWithNormalizedGatesMatchFiniteDifferences) {
  check_layer_gradients(spec_of(4, 2, 0.0, /*normalize=*/true), /*gpt2=*/false, 12);
}

TEST(MoeLayerGrad, CapacityDropsMatchFiniteDifferences) {
  check_layer_gradients(spec_of(4, 2, /*capacity=*/0.6), /*gpt2=*/true, 13);
  check_layer_gradients(spec_of(3, 1, /*capacity=*/0.5, true), /*gpt2=*/false, 14);
}

TEST(MoeLayerGrad, TopKEqualToTheNumberOfExperts) {
  check_layer_gradients(spec_of(3, 3), /*gpt2=*/true, 15);
  check_layer_gradients(spec_of(3, 3, 0.0, true), /*gpt2=*/false, 16);
}

TEST(MoeLayerGrad, LossScaleScalesEveryGradientAuxiliaryLossesIncluded) {
  Layer l(spec_of(4, 2, 0.6), true, 12, 8, 17);
  moe::MoeActs a1, a4;
  const Tensor dx1 = l.backward(a1, 1.0);
  const Tensor g1 = l.params.flat_grads().clone();
  const Tensor dx4 = l.backward(a4, 0.25);
  ops::scale_inplace(const_cast<Tensor&>(dx4), 4.0);
  ops::scale_inplace(l.params.flat_grads(), 4.0);
  EXPECT_LE(relative_l2(dx4, dx1), 1e-14);
  EXPECT_LE(relative_l2(l.params.flat_grads(), g1), 1e-14);
}

TEST(MoeLayerEdge, AnExpertWithNoTokenHasAnExactlyZeroGradient) {
  Layer l(spec_of(4, 2), true, 12, 8, 18);
  // Expert 3's router row far below the others: no token picks it.
  Param& router = l.params.get("moe.router.weight");
  Tensor row = router.value.narrow0(3, 4);
  row.fill(0.0);
  l.x.fill(1.0);  // with every x_c = 1, expert 3's logit is 0 and the others' are their row sums
  for (int e = 0; e < 3; ++e) router.value.narrow0(e, e + 1).fill(0.5);
  moe::MoeActs acts;
  l.backward(acts);
  EXPECT_EQ(acts.tokens_per_expert[3], 0);
  for (const char* name :
       {"moe.experts.fc.weight", "moe.experts.fc.bias", "moe.experts.proj.weight", "moe.experts.proj.bias"}) {
    const Tensor g = l.params.get(name).grad.narrow0(3, 4);
    for (int64_t i = 0; i < g.numel(); ++i) ASSERT_EQ(g.item(i), 0.0) << name << " element " << i;
    EXPECT_GT(test::max_abs(l.params.get(name).grad.narrow0(0, 1)), 0.0) << name;
  }
  EXPECT_GT(test::max_abs(router.grad.narrow0(3, 4)), 0.0)
      << "the idle expert's router row still learns through the softmax and the auxiliary losses";
}

TEST(MoeLayerEdge, MostTokensDroppedStillTrainsAndDroppedTokensGetNothing) {
  Layer l(spec_of(4, 2, /*capacity=*/0.01), true, 40, 8, 19);  // capacity ceil(0.01 * 40 * 2 / 4) = 1
  moe::MoeActs acts;
  Tensor y = Tensor::empty(l.x.shape(), DType::f64);
  l.layer->forward(acts, y, l.x);
  EXPECT_EQ(acts.routing.rows(), 4) << "one assignment per expert survives";
  EXPECT_EQ(acts.dropped, 40 * 2 - 4);
  std::vector<bool> routed(40, false);
  for (int32_t t : acts.routing.token_of_row) routed[t] = true;
  for (int64_t t = 0; t < 40; ++t)
    if (!routed[t]) {
      for (int64_t c = 0; c < 8; ++c) ASSERT_EQ(y.item(t * 8 + c), 0.0) << "token " << t;
    }
  const Tensor dx = l.backward(acts);
  for (int64_t i = 0; i < dx.numel(); ++i) ASSERT_TRUE(std::isfinite(dx.item(i)));
}

TEST(MoeLayerEdge, OneExpertTakesEveryToken) {
  check_layer_gradients(spec_of(1, 1), /*gpt2=*/false, 20);
}

}  // namespace
}  // namespace trident
