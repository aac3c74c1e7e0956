// Finite-difference gradient checks of every CPU op with a backward, in double precision.
// Loss L = sum(out * R) with a fixed random R, so dL/dout = R; every input and parameter gradient is compared
// with central differences (h = 1e-6): |analytic - fd| <= 1e-6 * max(1, |analytic|, |fd|) (ops_test_util.h).
#include <gtest/gtest.h>

#include <random>

#include "core/ops/ops.h"
#include "tests/unit/ops_test_util.h"

namespace trident {
namespace {

using test::check_grad;
using test::dot_sum;
using test::int_tensor;
using test::randn;
constexpr DType f64 = DType::f64;

// ---- GEMM ----

class OpsGradMatmul : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(OpsGradMatmul, EveryTransposeCombination) {
  const auto [ta, tb] = GetParam();
  std::mt19937 gen(11 + 2 * ta + tb);
  const int64_t m = 3, k = 4, n = 5;
  const double alpha = 1.3;
  Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, gen);
  Tensor b = randn(tb ? Shape{n, k} : Shape{k, n}, gen);
  Tensor r = randn({m, n}, gen);
  auto loss = [&] {
    Tensor c = Tensor::empty({m, n}, f64);
    ops::matmul(c, a, b, ta, tb, alpha);
    return dot_sum(c, r);
  };
  // C = alpha op(A) op(B): d op(A) = alpha R op(B)^T, d op(B) = alpha op(A)^T R, transposed back as needed.
  Tensor da = Tensor::empty(a.shape(), f64), db = Tensor::empty(b.shape(), f64);
  if (!ta) {
    ops::matmul(da, r, b, false, !tb, alpha);  // R op(B)^T
  } else {
    ops::matmul(da, b, r, tb, true, alpha);  // op(B) R^T
  }
  if (!tb) {
    ops::matmul(db, a, r, !ta, false, alpha);  // op(A)^T R
  } else {
    ops::matmul(db, r, a, true, ta, alpha);  // R^T op(A)
  }
  check_grad("da", a, da, loss);
  check_grad("db", b, db, loss);
}

INSTANTIATE_TEST_SUITE_P(AllTransposes, OpsGradMatmul,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool()));

// ---- Linear ----

void check_linear(bool with_bias) {
  std::mt19937 gen(with_bias ? 21 : 22);
  const int64_t b = 2, t = 3, ic = 4, oc = 5;
  Tensor in = randn({b, t, ic}, gen);  // leading dims flatten to N = B*T
  Tensor w = randn({oc, ic}, gen);
  Tensor bias = with_bias ? randn({oc}, gen) : Tensor{};
  Tensor r = randn({b, t, oc}, gen);
  auto loss = [&] {
    Tensor out = Tensor::empty({b, t, oc}, f64);
    ops::linear_forward(out, in, w, bias);
    return dot_sum(out, r);
  };
  Tensor din = Tensor::empty(in.shape(), f64);
  Tensor dw = Tensor::zeros(w.shape(), f64);
  Tensor dbias = with_bias ? Tensor::zeros({oc}, f64) : Tensor{};
  ops::linear_backward(din, dw, dbias, r, in, w);
  check_grad("din", in, din, loss);
  check_grad("dweight", w, dw, loss);
  if (with_bias) check_grad("dbias", bias, dbias, loss);
}

TEST(OpsGrad, LinearWithBias) {
  check_linear(true);
}
TEST(OpsGrad, LinearWithoutBias) {
  check_linear(false);
}

// ---- Embedding ----

TEST(OpsGrad, EmbeddingWithRepeatedTokens) {
  std::mt19937 gen(31);
  const int64_t vocab = 6, c = 4;
  Tensor tokens = int_tensor({2, 0, 2, 5, 2, 0, 3});  // 2 three times, 0 twice, 1 and 4 never
  Tensor w = randn({vocab, c}, gen);
  Tensor r = randn({tokens.numel(), c}, gen);
  auto loss = [&] {
    Tensor out = Tensor::empty({tokens.numel(), c}, f64);
    ops::embedding_forward(out, tokens, w);
    return dot_sum(out, r);
  };
  Tensor dw = Tensor::zeros(w.shape(), f64);
  ops::embedding_backward(dw, r, tokens);
  check_grad("dweight", w, dw, loss);
}

// ---- Norms ----

void check_layernorm(bool with_bias) {
  std::mt19937 gen(with_bias ? 41 : 42);
  const int64_t n = 5, c = 7;
  Tensor in = randn({n, c}, gen, f64, 2.0);
  Tensor w = randn({c}, gen);
  Tensor bias = with_bias ? randn({c}, gen) : Tensor{};
  Tensor r = randn({n, c}, gen);
  Tensor mean = Tensor::empty({n}, f64), rstd = Tensor::empty({n}, f64);
  auto loss = [&] {
    Tensor out = Tensor::empty({n, c}, f64);
    ops::layernorm_forward(out, mean, rstd, in, w, bias, 1e-5);
    return dot_sum(out, r);
  };
  loss();  // fills mean and rstd at the unperturbed point
  Tensor din = Tensor::empty(in.shape(), f64);
  Tensor dw = Tensor::zeros({c}, f64);
  Tensor db = with_bias ? Tensor::zeros({c}, f64) : Tensor{};
  ops::layernorm_backward(din, dw, db, r, in, w, mean.clone(), rstd.clone());
  check_grad("din", in, din, loss);
  check_grad("dweight", w, dw, loss);
  if (with_bias) check_grad("dbias", bias, db, loss);
}

TEST(OpsGrad, LayerNormWithBias) {
  check_layernorm(true);
}
TEST(OpsGrad, LayerNormWithoutBias) {
  check_layernorm(false);
}

TEST(OpsGrad, RmsNorm) {
  std::mt19937 gen(43);
  const int64_t b = 2, t = 3, c = 6;
  Tensor in = randn({b, t, c}, gen);
  Tensor w = randn({c}, gen);
  Tensor r = randn({b, t, c}, gen);
  Tensor rstd = Tensor::empty({b * t}, f64);
  auto loss = [&] {
    Tensor out = Tensor::empty(in.shape(), f64);
    ops::rmsnorm_forward(out, rstd, in, w, 1e-6);
    return dot_sum(out, r);
  };
  loss();
  Tensor din = Tensor::empty(in.shape(), f64);
  Tensor dw = Tensor::zeros({c}, f64);
  ops::rmsnorm_backward(din, dw, r, in, w, rstd.clone());
  check_grad("din", in, din, loss);
  check_grad("dweight", w, dw, loss);
}

// ---- Activations ----

TEST(OpsGrad, Gelu) {
  std::mt19937 gen(51);
  Tensor in = randn({4, 9}, gen, f64, 2.0);
  Tensor r = randn({4, 9}, gen);
  auto loss = [&] {
    Tensor out = Tensor::empty(in.shape(), f64);
    ops::gelu_forward(out, in);
    return dot_sum(out, r);
  };
  Tensor din = Tensor::empty(in.shape(), f64);
  ops::gelu_backward(din, r, in);
  check_grad("din", in, din, loss);
}

TEST(OpsGrad, Swiglu) {
  std::mt19937 gen(52);
  const int64_t n = 5, f = 4;
  Tensor in = randn({n, 2 * f}, gen, f64, 2.0);
  Tensor r = randn({n, f}, gen);
  auto loss = [&] {
    Tensor out = Tensor::empty({n, f}, f64);
    ops::swiglu_forward(out, in);
    return dot_sum(out, r);
  };
  Tensor din = Tensor::empty(in.shape(), f64);
  ops::swiglu_backward(din, r, in);
  check_grad("din", in, din, loss);
}

// ---- RoPE ----

TEST(OpsGrad, RopeWithPositionOffset) {
  std::mt19937 gen(61);
  const int64_t pos0 = 5;
  Tensor in = randn({2, 3, 2, 6}, gen);
  Tensor r = randn(in.shape(), gen);
  auto loss = [&] {
    Tensor out = Tensor::empty(in.shape(), f64);
    ops::rope_forward(out, in, 10000.0, pos0);
    return dot_sum(out, r);
  };
  Tensor din = Tensor::empty(in.shape(), f64);
  ops::rope_backward(din, r, 10000.0, pos0);
  check_grad("din", in, din, loss);
}

// ---- Attention ----

void check_attention(int64_t b, int64_t t, int64_t h, int64_t hkv, int64_t d, uint32_t seed) {
  std::mt19937 gen(seed);
  Tensor q = randn({b, t, h, d}, gen);
  Tensor k = randn({b, t, hkv, d}, gen);
  Tensor v = randn({b, t, hkv, d}, gen);
  Tensor r = randn({b, t, h, d}, gen);
  Tensor out = Tensor::empty(q.shape(), f64), lse = Tensor::empty({b, h, t}, f64);
  auto loss = [&] {
    Tensor o = Tensor::empty(q.shape(), f64), l = Tensor::empty({b, h, t}, f64);
    ops::attention_forward(o, l, q, k, v);
    return dot_sum(o, r);
  };
  ops::attention_forward(out, lse, q, k, v);
  Tensor dq = Tensor::full(q.shape(), 7.0, f64);  // garbage: backward must write, not accumulate
  Tensor dk = Tensor::full(k.shape(), 7.0, f64);
  Tensor dv = Tensor::full(v.shape(), 7.0, f64);
  ops::attention_backward(dq, dk, dv, r, q, k, v, out, lse);
  check_grad("dq", q, dq, loss);
  check_grad("dk", k, dk, loss);
  check_grad("dv", v, dv, loss);
}

TEST(OpsGrad, AttentionGroupedQuery) {
  check_attention(2, 5, 4, 2, 3, 71);
}
TEST(OpsGrad, AttentionMultiHeadOddT) {
  check_attention(1, 7, 2, 2, 4, 72);
}
TEST(OpsGrad, AttentionMultiQuery) {
  check_attention(1, 4, 3, 1, 2, 73);
}

// ---- Softmax ----

TEST(OpsGrad, Softmax) {
  std::mt19937 gen(81);
  Tensor in = randn({2, 3, 5}, gen, f64, 2.0);
  Tensor r = randn(in.shape(), gen);
  auto loss = [&] {
    Tensor out = Tensor::empty(in.shape(), f64);
    ops::softmax_forward(out, in);
    return dot_sum(out, r);
  };
  Tensor out = Tensor::empty(in.shape(), f64);
  ops::softmax_forward(out, in);
  Tensor din = Tensor::empty(in.shape(), f64);
  ops::softmax_backward(din, r, out);
  check_grad("din", in, din, loss);
}

// ---- Cross-entropy ----

TEST(OpsGrad, CrossEntropyPaddedVocabIgnoredTarget) {
  std::mt19937 gen(91);
  const int64_t n = 5, vocab = 6, vp = 8;  // columns 6 and 7 are padding
  const double scale = 0.37;               // L = scale * sum(losses), as with 1 / (number of tokens)
  Tensor logits = randn({n, vp}, gen, f64, 2.0);
  Tensor targets = int_tensor({3, -1, 0, 5, 3});
  auto loss = [&] {
    Tensor losses = Tensor::empty({n}, f64), lse = Tensor::empty({n}, f64);
    ops::cross_entropy_forward(losses, lse, logits, targets, vocab);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += scale * losses.item(i);
    return s;
  };
  Tensor losses = Tensor::empty({n}, f64), lse = Tensor::empty({n}, f64);
  ops::cross_entropy_forward(losses, lse, logits, targets, vocab);
  Tensor dlogits = Tensor::full(logits.shape(), 7.0, f64);
  ops::cross_entropy_backward(dlogits, logits, lse, targets, vocab, scale);
  check_grad("dlogits", logits, dlogits, loss);
  for (int64_t j = 0; j < vp; ++j) EXPECT_EQ(dlogits.item(1 * vp + j), 0.0) << "ignored row, column " << j;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(dlogits.item(i * vp + 6), 0.0) << "padding column, row " << i;
    EXPECT_EQ(dlogits.item(i * vp + 7), 0.0) << "padding column, row " << i;
  }
}

}  // namespace
}  // namespace trident
