// Forward checks of the CPU ops against naive independent formulas, the accumulate-into-dweight convention,
// aliasing promises, and errors on bad input.
// Tolerances: naive f64 references 1e-12 relative (+1e-12 absolute); f32 results against the f64 reference
// max |f32 - f64| <= 1e-5 * max(1, max |f64|).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/ops/ops.h"
#include "tests/unit/ops_test_util.h"

namespace trident {
namespace {

using test::expect_close;
using test::expect_close_scaled;
using test::int_tensor;
using test::randn;
constexpr DType f32 = DType::f32;
constexpr DType f64 = DType::f64;
constexpr double kRtol = 1e-12, kAtol = 1e-12;
constexpr double kF32Rel = 1e-5;

// ---- GEMM and linear ----

TEST(OpsForward, MatmulMatchesNaiveWithAlphaBeta) {
  std::mt19937 gen(1);
  const int64_t m = 4, k = 5, n = 3;
  const double alpha = 0.5, beta = -1.5;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, gen);
      Tensor b = randn(tb ? Shape{n, k} : Shape{k, n}, gen);
      Tensor c0 = randn({m, n}, gen);
      Tensor expected = Tensor::empty({m, n}, f64);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t p = 0; p < k; ++p)
            s += a.item(ta ? p * m + i : i * k + p) * b.item(tb ? j * k + p : p * n + j);
          expected.data<double>()[i * n + j] = alpha * s + beta * c0.item(i * n + j);
        }
      }
      Tensor c = c0.clone();
      ops::matmul(c, a, b, ta, tb, alpha, beta);
      expect_close(c, expected, kRtol, kAtol, fmt::format("matmul ta={} tb={}", ta, tb));
      Tensor c32 = c0.to(f32);
      ops::matmul(c32, a.to(f32), b.to(f32), ta, tb, alpha, beta);
      expect_close_scaled(c32, expected, kF32Rel, fmt::format("matmul f32 ta={} tb={}", ta, tb));
    }
  }
}

TEST(OpsForward, MatmulBetaZeroIgnoresGarbage) {
  std::mt19937 gen(2);
  Tensor a = randn({2, 3}, gen), b = randn({3, 2}, gen);
  Tensor c = Tensor::full({2, 2}, std::nan(""), f64);
  ops::matmul(c, a, b);
  for (int64_t i = 0; i < 4; ++i) EXPECT_TRUE(std::isfinite(c.item(i)));
}

TEST(OpsForward, MatmulRejectsBadShapes) {
  Tensor a = Tensor::zeros({2, 3}, f64), b = Tensor::zeros({4, 2}, f64), c = Tensor::zeros({2, 2}, f64);
  EXPECT_THROW(ops::matmul(c, a, b), Error);
  Tensor b32 = Tensor::zeros({3, 2}, f32);
  EXPECT_THROW(ops::matmul(c, a, b32), Error);  // mixed dtypes
}

TEST(OpsForward, LinearMatchesNaive) {
  std::mt19937 gen(3);
  const int64_t n = 4, ic = 3, oc = 5;
  Tensor in = randn({n, ic}, gen), w = randn({oc, ic}, gen), bias = randn({oc}, gen);
  Tensor out = Tensor::empty({n, oc}, f64), expected = Tensor::empty({n, oc}, f64);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t o = 0; o < oc; ++o) {
      double s = bias.item(o);
      for (int64_t c = 0; c < ic; ++c) s += in.item(i * ic + c) * w.item(o * ic + c);
      expected.data<double>()[i * oc + o] = s;
    }
  }
  ops::linear_forward(out, in, w, bias);
  expect_close(out, expected, kRtol, kAtol, "linear");
}

// ---- Embedding ----

TEST(OpsForward, EmbeddingGathersRows) {
  std::mt19937 gen(4);
  Tensor w = randn({5, 3}, gen);
  Tensor tokens = int_tensor({4, 0, 4});
  Tensor out = Tensor::empty({3, 3}, f64);
  ops::embedding_forward(out, tokens, w);
  for (int64_t c = 0; c < 3; ++c) {
    EXPECT_EQ(out.item(0 * 3 + c), w.item(4 * 3 + c));
    EXPECT_EQ(out.item(1 * 3 + c), w.item(0 * 3 + c));
    EXPECT_EQ(out.item(2 * 3 + c), w.item(4 * 3 + c));
  }
}

TEST(OpsForward, EmbeddingBadTokenThrowsNamingIt) {
  Tensor w = Tensor::zeros({5, 3}, f32), out = Tensor::empty({3, 3}, f32), dw = Tensor::zeros({5, 3}, f32);
  for (int32_t bad : {5, -1, 1 << 30}) {
    Tensor tokens = int_tensor({1, bad, 2});
    try {
      ops::embedding_forward(out, tokens, w);
      ADD_FAILURE() << "token " << bad << " did not throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
    EXPECT_THROW(ops::embedding_backward(dw, out, tokens), Error);
  }
  EXPECT_THROW(ops::embedding_forward(out, w, w), Error);  // tokens must be i32
}

// ---- Norms ----

TEST(OpsForward, LayerNormUnitWeightGivesZeroMeanUnitVariance) {
  std::mt19937 gen(5);
  const int64_t n = 6, c = 64;
  Tensor in = randn({n, c}, gen, f64, 3.0);
  for (int64_t i = 0; i < in.numel(); ++i) in.data<double>()[i] += 10.0;  // a large mean must not matter
  Tensor w = Tensor::full({c}, 1.0, f64), b = Tensor::zeros({c}, f64);
  Tensor out = Tensor::empty({n, c}, f64), mean = Tensor::empty({n}, f64), rstd = Tensor::empty({n}, f64);
  ops::layernorm_forward(out, mean, rstd, in, w, b, 0.0);
  for (int64_t r = 0; r < n; ++r) {
    double mu = 0, var = 0, in_mu = 0;
    for (int64_t j = 0; j < c; ++j) mu += out.item(r * c + j) / c, in_mu += in.item(r * c + j) / c;
    for (int64_t j = 0; j < c; ++j) var += std::pow(out.item(r * c + j) - mu, 2) / c;
    EXPECT_NEAR(mu, 0.0, 1e-12);
    EXPECT_NEAR(var, 1.0, 1e-12);
    EXPECT_NEAR(mean.item(r), in_mu, 1e-12);
  }
  // weight and bias apply per channel afterwards
  Tensor w2 = randn({c}, gen), b2 = randn({c}, gen), out2 = Tensor::empty({n, c}, f64);
  ops::layernorm_forward(out2, mean, rstd, in, w2, b2, 0.0);
  for (int64_t i = 0; i < out2.numel(); ++i) {
    EXPECT_NEAR(out2.item(i), out.item(i) * w2.item(i % c) + b2.item(i % c), 1e-12);
  }
}

TEST(OpsForward, RmsNormUnitWeightGivesUnitMeanSquare) {
  std::mt19937 gen(6);
  const int64_t n = 5, c = 32;
  Tensor in = randn({n, c}, gen, f64, 3.0);
  Tensor w = Tensor::full({c}, 1.0, f64);
  Tensor out = Tensor::empty({n, c}, f64), rstd = Tensor::empty({n}, f64);
  ops::rmsnorm_forward(out, rstd, in, w, 0.0);
  for (int64_t r = 0; r < n; ++r) {
    double ms = 0, in_ms = 0;
    for (int64_t j = 0; j < c; ++j)
      ms += std::pow(out.item(r * c + j), 2) / c, in_ms += std::pow(in.item(r * c + j), 2) / c;
    EXPECT_NEAR(ms, 1.0, 1e-12);
    EXPECT_NEAR(rstd.item(r), 1.0 / std::sqrt(in_ms), 1e-12);
  }
}

// ---- Activations ----

TEST(OpsForward, GeluMatchesTanhFormula) {
  Tensor in = Tensor::from_vector({-3.0f, -1.0f, 0.0f, 0.5f, 1.0f, 4.0f}, {6}, f64);
  Tensor out = Tensor::empty({6}, f64);
  ops::gelu_forward(out, in);
  for (int64_t i = 0; i < 6; ++i) {
    const double x = in.item(i);
    const double expected = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(out.item(i), expected, 1e-14);
  }
  EXPECT_NEAR(out.item(4), 0.8411919906082768, 1e-12);  // gelu(1), tanh form
}

TEST(OpsForward, SwigluMatchesFormula) {
  std::mt19937 gen(7);
  const int64_t n = 3, f = 4;
  Tensor in = randn({n, 2 * f}, gen);
  Tensor out = Tensor::empty({n, f}, f64);
  ops::swiglu_forward(out, in);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < f; ++j) {
      const double g = in.item(r * 2 * f + j), u = in.item(r * 2 * f + f + j);
      EXPECT_NEAR(out.item(r * f + j), g / (1 + std::exp(-g)) * u, 1e-14);
    }
  }
}

// ---- RoPE ----

TEST(OpsForward, RopeMatchesNaiveRotateHalf) {
  std::mt19937 gen(8);
  const int64_t b = 2, t = 3, h = 2, d = 8, pos0 = 7;
  const double theta = 500.0;
  Tensor in = randn({b, t, h, d}, gen);
  Tensor out = Tensor::empty(in.shape(), f64);
  ops::rope_forward(out, in, theta, pos0);
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t ti = 0; ti < t; ++ti) {
      for (int64_t hi = 0; hi < h; ++hi) {
        const int64_t base = ((bi * t + ti) * h + hi) * d;
        for (int64_t i = 0; i < d / 2; ++i) {
          const double angle = (pos0 + ti) / std::pow(theta, 2.0 * i / d);
          const double x1 = in.item(base + i), x2 = in.item(base + i + d / 2);
          EXPECT_NEAR(out.item(base + i), x1 * std::cos(angle) - x2 * std::sin(angle), 1e-12);
          EXPECT_NEAR(out.item(base + i + d / 2), x2 * std::cos(angle) + x1 * std::sin(angle), 1e-12);
        }
      }
    }
  }
}

TEST(OpsForward, RopeInPlaceOffsetAndInverse) {
  std::mt19937 gen(9);
  const int64_t t = 6, d = 4;
  Tensor in = randn({1, t, 3, d}, gen);
  Tensor out = Tensor::empty(in.shape(), f64);
  ops::rope_forward(out, in, 10000.0, 0);
  // out may alias in
  Tensor inplace = in.clone();
  ops::rope_forward(inplace, inplace, 10000.0, 0);
  expect_close(inplace, out, 0, 0, "rope in place");
  // positions [2, 6) with pos0 = 2 equal the tail of the full sequence
  Tensor tail = in.flat(2 * 3 * d, {1, t - 2, 3, d}).clone();
  Tensor tail_out = Tensor::empty(tail.shape(), f64);
  ops::rope_forward(tail_out, tail, 10000.0, 2);
  expect_close(tail_out, out.flat(2 * 3 * d, tail.shape()), kRtol, kAtol, "rope pos0 offset");
  // backward (the transposed rotation) undoes forward, in place
  ops::rope_backward(out, out, 10000.0, 0);
  expect_close(out, in, kRtol, kAtol, "rope backward inverts forward");
}

// ---- Attention ----

// Naive causal attention with a full T x T score matrix per (b, h).
void naive_attention(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t b = q.dim(0), t = q.dim(1), h = q.dim(2), d = q.dim(3), hkv = k.dim(2);
  auto at = [&](const Tensor& x, int64_t heads, int64_t bi, int64_t ti, int64_t hi, int64_t c) {
    return x.item(((bi * t + ti) * heads + hi) * d + c);
  };
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t hi = 0; hi < h; ++hi) {
      const int64_t g = hi / (h / hkv);
      std::vector<std::vector<double>> s(t, std::vector<double>(t, -INFINITY));
      for (int64_t i = 0; i < t; ++i) {
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < d; ++c) dot += at(q, h, bi, i, hi, c) * at(k, hkv, bi, j, g, c);
          s[i][j] = dot / std::sqrt(static_cast<double>(d));
        }
        double z = 0;
        for (int64_t j = 0; j < t; ++j) z += std::exp(s[i][j]);  // exp(-inf) = 0 masks the future
        lse.data<double>()[(bi * h + hi) * t + i] = std::log(z);
        for (int64_t c = 0; c < d; ++c) {
          double o = 0;
          for (int64_t j = 0; j < t; ++j) o += std::exp(s[i][j]) / z * at(v, hkv, bi, j, g, c);
          out.data<double>()[((bi * t + i) * h + hi) * d + c] = o;
        }
      }
    }
  }
}

void check_attention_forward(int64_t b, int64_t t, int64_t h, int64_t hkv, int64_t d, uint32_t seed) {
  std::mt19937 gen(seed);
  Tensor q = randn({b, t, h, d}, gen), k = randn({b, t, hkv, d}, gen), v = randn({b, t, hkv, d}, gen);
  Tensor out = Tensor::empty(q.shape(), f64), lse = Tensor::empty({b, h, t}, f64);
  Tensor ref = Tensor::empty(q.shape(), f64), ref_lse = Tensor::empty({b, h, t}, f64);
  ops::attention_forward(out, lse, q, k, v);
  naive_attention(ref, ref_lse, q, k, v);
  expect_close(out, ref, 1e-11, 1e-12, "attention out");
  expect_close(lse, ref_lse, 1e-11, 1e-12, "attention lse");
  Tensor out32 = Tensor::empty(q.shape(), f32), lse32 = Tensor::empty({b, h, t}, f32);
  ops::attention_forward(out32, lse32, q.to(f32), k.to(f32), v.to(f32));
  expect_close_scaled(out32, ref, kF32Rel, "attention out f32");
  expect_close_scaled(lse32, ref_lse, kF32Rel, "attention lse f32");
}

TEST(OpsForward, AttentionMatchesNaiveGroupedQuery) {
  check_attention_forward(2, 7, 4, 2, 8, 10);
}
TEST(OpsForward, AttentionMatchesNaiveMultiHead) {
  check_attention_forward(1, 9, 3, 3, 5, 11);
}
TEST(OpsForward, AttentionMatchesNaiveLongerSequence) {
  check_attention_forward(2, 67, 4, 1, 16, 12);
}

TEST(OpsForward, AttentionGroupedQueryEqualsRepeatedKvHeads) {
  std::mt19937 gen(13);
  const int64_t b = 2, t = 5, h = 4, hkv = 2, d = 3;
  Tensor q = randn({b, t, h, d}, gen), k = randn({b, t, hkv, d}, gen), v = randn({b, t, hkv, d}, gen);
  Tensor k_rep = Tensor::empty({b, t, h, d}, f64), v_rep = Tensor::empty({b, t, h, d}, f64);
  for (int64_t row = 0; row < b * t; ++row) {
    for (int64_t hi = 0; hi < h; ++hi) {
      for (int64_t c = 0; c < d; ++c) {
        k_rep.data<double>()[(row * h + hi) * d + c] = k.item((row * hkv + hi / (h / hkv)) * d + c);
        v_rep.data<double>()[(row * h + hi) * d + c] = v.item((row * hkv + hi / (h / hkv)) * d + c);
      }
    }
  }
  Tensor out = Tensor::empty(q.shape(), f64), lse = Tensor::empty({b, h, t}, f64);
  Tensor out_rep = Tensor::empty(q.shape(), f64), lse_rep = Tensor::empty({b, h, t}, f64);
  ops::attention_forward(out, lse, q, k, v);
  ops::attention_forward(out_rep, lse_rep, q, k_rep, v_rep);
  expect_close(out, out_rep, kRtol, kAtol, "gqa out");
  // dk of the grouped layout is the sum of the repeated heads' dk
  Tensor r = randn(q.shape(), gen);
  Tensor dq = Tensor::empty(q.shape(), f64), dk = Tensor::empty(k.shape(), f64),
         dv = Tensor::empty(v.shape(), f64);
  Tensor dq_rep = Tensor::empty(q.shape(), f64), dk_rep = Tensor::empty(q.shape(), f64);
  Tensor dv_rep = Tensor::empty(q.shape(), f64);
  ops::attention_backward(dq, dk, dv, r, q, k, v, out, lse);
  ops::attention_backward(dq_rep, dk_rep, dv_rep, r, q, k_rep, v_rep, out_rep, lse_rep);
  expect_close(dq, dq_rep, kRtol, kAtol, "gqa dq");
  for (int64_t row = 0; row < b * t; ++row) {
    for (int64_t g = 0; g < hkv; ++g) {
      for (int64_t c = 0; c < d; ++c) {
        double sk = 0, sv = 0;
        for (int64_t hi = g * (h / hkv); hi < (g + 1) * (h / hkv); ++hi) {
          sk += dk_rep.item((row * h + hi) * d + c);
          sv += dv_rep.item((row * h + hi) * d + c);
        }
        EXPECT_NEAR(dk.item((row * hkv + g) * d + c), sk, 1e-12);
        EXPECT_NEAR(dv.item((row * hkv + g) * d + c), sv, 1e-12);
      }
    }
  }
}

// ---- Softmax and cross-entropy ----

TEST(OpsForward, SoftmaxMatchesNaive) {
  std::mt19937 gen(14);
  const int64_t n = 4, c = 9;
  Tensor in = randn({n, c}, gen, f64, 5.0);
  in.data<double>()[3] = 800.0;  // exp overflows without the max shift
  Tensor out = Tensor::empty({n, c}, f64), expected = Tensor::empty({n, c}, f64);
  ops::softmax_forward(out, in);
  for (int64_t r = 0; r < n; ++r) {
    double m = -INFINITY, z = 0;
    for (int64_t j = 0; j < c; ++j) m = std::max(m, in.item(r * c + j));
    for (int64_t j = 0; j < c; ++j) z += std::exp(in.item(r * c + j) - m);
    for (int64_t j = 0; j < c; ++j) expected.data<double>()[r * c + j] = std::exp(in.item(r * c + j) - m) / z;
  }
  expect_close(out, expected, kRtol, kAtol, "softmax");
}

TEST(OpsForward, CrossEntropyMatchesLogSoftmax) {
  std::mt19937 gen(15);
  const int64_t n = 6, vocab = 10, vp = 16;
  Tensor logits = randn({n, vp}, gen, f64, 3.0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = vocab; j < vp; ++j) logits.data<double>()[r * vp + j] = 1e3;  // padding must be ignored
  }
  Tensor targets = int_tensor({0, 9, -1, 4, 4, 7});
  Tensor losses = Tensor::empty({n}, f64), lse = Tensor::empty({n}, f64);
  ops::cross_entropy_forward(losses, lse, logits, targets, vocab);
  for (int64_t r = 0; r < n; ++r) {
    double m = -INFINITY, z = 0;
    for (int64_t j = 0; j < vocab; ++j) m = std::max(m, logits.item(r * vp + j));
    for (int64_t j = 0; j < vocab; ++j) z += std::exp(logits.item(r * vp + j) - m);
    const int32_t tg = targets.data<int32_t>()[r];
    const double expected = tg < 0 ? 0.0 : -(logits.item(r * vp + tg) - m - std::log(z));  // -log_softmax
    EXPECT_NEAR(losses.item(r), expected, 1e-12) << "row " << r;
    EXPECT_NEAR(lse.item(r), m + std::log(z), 1e-12) << "row " << r;
  }
  // dlogits may alias logits
  Tensor dlogits = Tensor::empty(logits.shape(), f64);
  ops::cross_entropy_backward(dlogits, logits, lse, targets, vocab, 0.25);
  Tensor inplace = logits.clone();
  ops::cross_entropy_backward(inplace, inplace, lse, targets, vocab, 0.25);
  expect_close(inplace, dlogits, 0, 0, "cross-entropy in place");
  // each real row of dlogits sums to zero (softmax sums to one)
  for (int64_t r = 0; r < n; ++r) {
    double s = 0;
    for (int64_t j = 0; j < vp; ++j) s += dlogits.item(r * vp + j);
    EXPECT_NEAR(s, 0.0, 1e-12);
  }
}

TEST(OpsForward, CrossEntropyBadTargetThrowsNamingIt) {
  Tensor logits = Tensor::zeros({2, 8}, f32), losses = Tensor::empty({2}, f32), lse = Tensor::empty({2}, f32);
  for (int32_t bad : {6, 7, -2}) {  // 6 and 7 are padding columns of a vocab of 6
    Tensor targets = int_tensor({1, bad});
    try {
      ops::cross_entropy_forward(losses, lse, logits, targets, 6);
      ADD_FAILURE() << "target " << bad << " did not throw";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
    Tensor dlogits = Tensor::empty({2, 8}, f32);
    EXPECT_THROW(ops::cross_entropy_backward(dlogits, logits, lse, targets, 6, 1.0), Error);
  }
  Tensor targets = int_tensor({0, 1});
  EXPECT_THROW(ops::cross_entropy_forward(losses, lse, logits, targets, 9), Error);  // vocab > Vp
}

// ---- Elementwise ----

TEST(OpsForward, ElementwiseHelpers) {
  std::mt19937 gen(16);
  const int64_t n = 100000;  // several sum_squares chunks
  Tensor a = randn({n}, gen), b = randn({n}, gen);
  Tensor out = Tensor::empty({n}, f64);
  ops::add(out, a, b);
  for (int64_t i = 0; i < n; i += 997) EXPECT_EQ(out.item(i), a.item(i) + b.item(i));
  Tensor c = a.clone();
  ops::add_inplace(c, b);
  expect_close(c, out, 0, 0, "add_inplace");
  ops::add(c, c, c);  // out aliases both inputs
  ops::scale_inplace(c, 0.5);
  expect_close(c, out, 0, 0, "add aliased, then scale");
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += a.item(i) * a.item(i);
  EXPECT_NEAR(ops::sum_squares(a), ss, 1e-9 * ss);
  EXPECT_NEAR(ops::sum_squares(a.to(f32)), ss, 1e-6 * ss);
  EXPECT_THROW(ops::add(out, a, b.to(f32)), Error);
  EXPECT_THROW(ops::add(out, a, Tensor::zeros({n - 1}, f64)), Error);
}

// ---- AdamW ----

TEST(OpsForward, AdamWMatchesHandComputedSteps) {
  const ops::AdamWParams hp{
      .lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01, .step = 1};
  for (DType dt : {f64, f32}) {
    Tensor p = Tensor::from_vector({1.0f, -2.0f, 0.5f}, {3}, dt);
    Tensor g = Tensor::from_vector({0.5f, 0.25f, -1.0f}, {3}, dt);
    Tensor m = Tensor::zeros({3}, dt), v = Tensor::zeros({3}, dt);
    ops::adamw_step(p, g, m, v, hp);
    // Step 1: m_hat = g, v_hat = g^2, so p = p (1 - lr wd) - lr g / (|g| + eps) = p (1 - 0.001) - 0.1
    // sign(g).
    const double tol = dt == f64 ? 1e-12 : 1e-6;
    EXPECT_NEAR(p.item(0), 1.0 * 0.999 - 0.1 * 0.5 / (0.5 + 1e-8), tol);
    EXPECT_NEAR(p.item(1), -2.0 * 0.999 - 0.1 * 0.25 / (0.25 + 1e-8), tol);
    EXPECT_NEAR(p.item(2), 0.5 * 0.999 + 0.1 * 1.0 / (1.0 + 1e-8), tol);
    EXPECT_NEAR(m.item(0), 0.05, tol);
    EXPECT_NEAR(v.item(0), 0.001 * 0.25, tol * 1e-3);

    // Step 3 from a given state: m = 0.9*0.2 + 0.1*0.5 = 0.23, v = 0.999*0.04 + 0.001*0.25 = 0.04021,
    // p = 2 * (1 - 0.001) - 0.1 * (0.23 / (1 - 0.9^3)) / (sqrt(0.04021 / (1 - 0.999^3)) + 1e-8).
    Tensor p3 = Tensor::from_vector({2.0f}, {1}, dt), g3 = Tensor::from_vector({0.5f}, {1}, dt);
    Tensor m3 = Tensor::from_vector({0.2f}, {1}, dt), v3 = Tensor::from_vector({0.04f}, {1}, dt);
    ops::AdamWParams hp3 = hp;
    hp3.step = 3;
    ops::adamw_step(p3, g3, m3, v3, hp3);
    const double expected =
        2.0 * 0.999 - 0.1 * (0.23 / (1 - 0.729)) / (std::sqrt(0.04021 / (1 - std::pow(0.999, 3))) + 1e-8);
    EXPECT_NEAR(p3.item(0), expected, dt == f64 ? 1e-9 : 1e-6);  // f64 inputs came through f32 literals
    EXPECT_NEAR(m3.item(0), 0.23, dt == f64 ? 1e-8 : 1e-6);
    EXPECT_NEAR(v3.item(0), 0.04021, dt == f64 ? 1e-9 : 1e-7);
  }
  ops::AdamWParams bad = hp;
  bad.step = 0;
  Tensor p = Tensor::zeros({1}, f32), g = Tensor::zeros({1}, f32), m = Tensor::zeros({1}, f32),
         v = Tensor::zeros({1}, f32);
  EXPECT_THROW(ops::adamw_step(p, g, m, v, bad), Error);
}

// ---- Conventions ----

TEST(OpsForward, BackwardAccumulatesIntoParameterGradients) {
  std::mt19937 gen(17);
  const int64_t n = 4, c = 6, oc = 3;
  Tensor in = randn({n, c}, gen), dout_c = randn({n, c}, gen), dout_oc = randn({n, oc}, gen);
  Tensor w = randn({c}, gen), b = randn({c}, gen), lw = randn({oc, c}, gen), lb = randn({oc}, gen);

  auto twice = [&](const char* what, auto&& backward, std::vector<Tensor*> param_grads, Tensor& din) {
    backward();
    std::vector<Tensor> once;
    for (Tensor* g : param_grads) once.push_back(g->clone());
    Tensor din_once = din.clone();
    backward();
    for (size_t i = 0; i < param_grads.size(); ++i) {
      Tensor doubled = once[i].clone();
      ops::scale_inplace(doubled, 2.0);
      expect_close(*param_grads[i], doubled, 1e-14, 1e-14, std::string(what) + " param grad doubles");
    }
    expect_close(din, din_once, 0, 0, std::string(what) + " din is written, not accumulated");
  };

  Tensor din = Tensor::empty({n, c}, f64), dw = Tensor::zeros({oc, c}, f64), db = Tensor::zeros({oc}, f64);
  twice(
      "linear", [&] { ops::linear_backward(din, dw, db, dout_oc, in, lw); }, {&dw, &db}, din);

  Tensor mean = Tensor::empty({n}, f64), rstd = Tensor::empty({n}, f64), out = Tensor::empty({n, c}, f64);
  ops::layernorm_forward(out, mean, rstd, in, w, b, 1e-5);
  Tensor lnw = Tensor::zeros({c}, f64), lnb = Tensor::zeros({c}, f64);
  twice(
      "layernorm", [&] { ops::layernorm_backward(din, lnw, lnb, dout_c, in, w, mean, rstd); }, {&lnw, &lnb},
      din);

  ops::rmsnorm_forward(out, rstd, in, w, 1e-5);
  Tensor rmw = Tensor::zeros({c}, f64);
  twice(
      "rmsnorm", [&] { ops::rmsnorm_backward(din, rmw, dout_c, in, w, rstd); }, {&rmw}, din);

  Tensor tokens = int_tensor({1, 1, 0, 2});
  Tensor emb = Tensor::zeros({3, c}, f64);
  twice(
      "embedding", [&] { ops::embedding_backward(emb, dout_c, tokens); }, {&emb}, din);
}

TEST(OpsForward, DtypeMismatchAndUnsupportedDtypeThrow) {
  Tensor in = Tensor::zeros({2, 4}, f64), out = Tensor::zeros({2, 4}, f32);
  EXPECT_THROW(ops::gelu_forward(out, in), Error);
  Tensor i32 = Tensor::zeros({2, 4}, DType::i32), o32 = Tensor::zeros({2, 4}, DType::i32);
  EXPECT_THROW(ops::gelu_forward(o32, i32), Error);
  Tensor w = Tensor::zeros({3}, f64), mean = Tensor::zeros({2}, f64), rstd = Tensor::zeros({2}, f64);
  Tensor out64 = Tensor::zeros({2, 4}, f64);
  EXPECT_THROW(ops::layernorm_forward(out64, mean, rstd, in, w, Tensor{}, 1e-5), Error);  // C mismatch
}

}  // namespace
}  // namespace trident
