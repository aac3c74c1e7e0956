// Parity checks of the CPU ops: threaded shapes against serial row slices, and f32 against f64.
// Tolerances: threaded vs serial rows bitwise equal, accumulated parameter gradients 1e-12 relative (the
// summation order differs); f32 vs f64 of the same op max |f32 - f64| <= 1e-5 * max(1, max |f64|).
#include <gtest/gtest.h>

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
constexpr double kF32Rel = 1e-5;

// ---- Threaded paths ----

// Shapes above the OpenMP grain run threaded; 8-row slices run serially. Row results must agree exactly
// and parameter gradients accumulated slice by slice must equal the one-shot result (up to summation order).
TEST(OpsParity, ThreadedShapesMatchRowSlices) {
  std::mt19937 gen(19);
  const int64_t n = 512, c = 96, rows = 8;
  Tensor in = randn({n, c}, gen), dout = randn({n, c}, gen), w = randn({c}, gen), b = randn({c}, gen);
  auto slice = [&](const Tensor& t, int64_t r0) { return t.narrow0(r0, r0 + rows); };

  Tensor out = Tensor::empty({n, c}, f64), mean = Tensor::empty({n}, f64), rstd = Tensor::empty({n}, f64);
  Tensor din = Tensor::empty({n, c}, f64), dw = Tensor::zeros({c}, f64), db = Tensor::zeros({c}, f64);
  ops::layernorm_forward(out, mean, rstd, in, w, b, 1e-5);
  ops::layernorm_backward(din, dw, db, dout, in, w, mean, rstd);
  Tensor out_s = Tensor::empty({n, c}, f64), din_s = Tensor::empty({n, c}, f64);
  Tensor dw_s = Tensor::zeros({c}, f64), db_s = Tensor::zeros({c}, f64);
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    Tensor o = slice(out_s, r0), d = slice(din_s, r0), m = slice(mean, r0).clone(),
           rs = slice(rstd, r0).clone();
    ops::layernorm_forward(o, m, rs, slice(in, r0), w, b, 1e-5);
    ops::layernorm_backward(d, dw_s, db_s, slice(dout, r0), slice(in, r0), w, m, rs);
  }
  expect_close(out_s, out, 0, 0, "layernorm out");
  expect_close(din_s, din, 0, 0, "layernorm din");
  expect_close(dw_s, dw, 1e-12, 1e-12, "layernorm dweight");
  expect_close(db_s, db, 1e-12, 1e-12, "layernorm dbias");

  Tensor rms_dw = Tensor::zeros({c}, f64), rms_dw_s = Tensor::zeros({c}, f64);
  ops::rmsnorm_forward(out, rstd, in, w, 1e-5);
  ops::rmsnorm_backward(din, rms_dw, dout, in, w, rstd);
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    Tensor o = slice(out_s, r0), d = slice(din_s, r0), rs = Tensor::empty({rows}, f64);
    ops::rmsnorm_forward(o, rs, slice(in, r0), w, 1e-5);
    ops::rmsnorm_backward(d, rms_dw_s, slice(dout, r0), slice(in, r0), w, rs);
  }
  expect_close(out_s, out, 0, 0, "rmsnorm out");
  expect_close(din_s, din, 0, 0, "rmsnorm din");
  expect_close(rms_dw_s, rms_dw, 1e-12, 1e-12, "rmsnorm dweight");

  ops::softmax_forward(out, in);
  ops::softmax_backward(din, dout, out);
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    Tensor o = slice(out_s, r0), d = slice(din_s, r0);
    ops::softmax_forward(o, slice(in, r0));
    ops::softmax_backward(d, slice(dout, r0), o);
  }
  expect_close(out_s, out, 0, 0, "softmax out");
  expect_close(din_s, din, 0, 0, "softmax din");

  ops::gelu_forward(out, in);
  ops::gelu_backward(din, dout, in);
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    Tensor o = slice(out_s, r0), d = slice(din_s, r0);
    ops::gelu_forward(o, slice(in, r0));
    ops::gelu_backward(d, slice(dout, r0), slice(in, r0));
  }
  expect_close(out_s, out, 0, 0, "gelu out");
  expect_close(din_s, din, 0, 0, "gelu din");

  Tensor sw = Tensor::empty({n, c / 2}, f64), sw_s = Tensor::empty({n, c / 2}, f64);
  Tensor dsw_out = randn({n, c / 2}, gen);
  ops::swiglu_forward(sw, in);
  ops::swiglu_backward(din, dsw_out, in);
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    Tensor o = slice(sw_s, r0), d = slice(din_s, r0);
    ops::swiglu_forward(o, slice(in, r0));
    ops::swiglu_backward(d, slice(dsw_out, r0), slice(in, r0));
  }
  expect_close(sw_s, sw, 0, 0, "swiglu out");
  expect_close(din_s, din, 0, 0, "swiglu din");

  std::vector<int32_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = i % 17 == 0 ? -1 : static_cast<int32_t>((i * 7919) % (c - 3));
  Tensor targets = int_tensor(ids);  // some -1 (ignored)
  Tensor losses = Tensor::empty({n}, f64), lse = Tensor::empty({n}, f64);
  ops::cross_entropy_forward(losses, lse, in, targets, c - 3);
  ops::cross_entropy_backward(din, in, lse, targets, c - 3, 0.5);
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    Tensor l = Tensor::empty({rows}, f64), ls = Tensor::empty({rows}, f64), d = slice(din_s, r0);
    ops::cross_entropy_forward(l, ls, slice(in, r0), slice(targets, r0), c - 3);
    ops::cross_entropy_backward(d, slice(in, r0), ls, slice(targets, r0), c - 3, 0.5);
    expect_close(l, slice(losses, r0), 0, 0, "cross-entropy losses");
  }
  expect_close(din_s, din, 0, 0, "cross-entropy dlogits");

  for (int32_t& id : ids) id = id < 0 ? 3 : id % 10;  // many repeats
  Tensor tokens = int_tensor(ids);
  Tensor emb_dw = Tensor::zeros({10, c}, f64), emb_dw_s = Tensor::zeros({10, c}, f64);
  ops::embedding_backward(emb_dw, dout, tokens);
  for (int64_t r0 = 0; r0 < n; r0 += rows)
    ops::embedding_backward(emb_dw_s, slice(dout, r0), slice(tokens, r0));
  expect_close(emb_dw_s, emb_dw, 1e-12, 1e-12, "embedding dweight");

  Tensor lw = randn({c, c}, gen), lin_db = Tensor::zeros({c}, f64), lin_db_s = Tensor::zeros({c}, f64);
  Tensor lin_dw = Tensor::zeros({c, c}, f64), none;
  ops::linear_backward(none, lin_dw, lin_db, dout, in, lw);
  for (int64_t r0 = 0; r0 < n; r0 += rows)
    ops::linear_backward(none, none, lin_db_s, slice(dout, r0), slice(in, r0), lw);
  expect_close(lin_db_s, lin_db, 1e-12, 1e-12, "linear dbias");

  // attention: batch of 8 (threaded) against one sequence at a time (serial)
  const int64_t B = 8, T = 12, H = 4, HKV = 2, D = 8;
  Tensor q = randn({B, T, H, D}, gen), k = randn({B, T, HKV, D}, gen), v = randn({B, T, HKV, D}, gen);
  Tensor r = randn({B, T, H, D}, gen);
  Tensor ao = Tensor::empty(q.shape(), f64), alse = Tensor::empty({B, H, T}, f64);
  Tensor dq = Tensor::empty(q.shape(), f64), dk = Tensor::empty(k.shape(), f64),
         dv = Tensor::empty(v.shape(), f64);
  ops::attention_forward(ao, alse, q, k, v);
  ops::attention_backward(dq, dk, dv, r, q, k, v, ao, alse);
  for (int64_t bi = 0; bi < B; ++bi) {
    auto one = [&](const Tensor& t) { return t.narrow0(bi, bi + 1); };
    Tensor o = Tensor::empty({1, T, H, D}, f64), l = Tensor::empty({1, H, T}, f64);
    Tensor gq = Tensor::empty({1, T, H, D}, f64), gk = Tensor::empty({1, T, HKV, D}, f64);
    Tensor gv = Tensor::empty({1, T, HKV, D}, f64);
    ops::attention_forward(o, l, one(q), one(k), one(v));
    ops::attention_backward(gq, gk, gv, one(r), one(q), one(k), one(v), o, l);
    expect_close(o, one(ao), 0, 0, "attention out");
    expect_close(l, one(alse), 0, 0, "attention lse");
    expect_close(gq, one(dq), 0, 0, "attention dq");
    expect_close(gk, one(dk), 0, 0, "attention dk");
    expect_close(gv, one(dv), 0, 0, "attention dv");
  }
}

// ---- f32 against f64 ----

// Runs `op` on f64 inputs and on the same inputs cast to f32; outputs must agree to kF32Rel.
template <typename Op>
void expect_f32_matches_f64(const std::string& what, const std::vector<Tensor>& inputs, Op&& op) {
  std::vector<Tensor> in32;
  for (const Tensor& t : inputs) in32.push_back(t.dtype() == f64 ? t.to(f32) : t);
  const std::vector<Tensor> out64 = op(inputs, f64);
  const std::vector<Tensor> out32 = op(in32, f32);
  for (size_t i = 0; i < out64.size(); ++i) {
    expect_close_scaled(out32[i], out64[i], kF32Rel, what + " output " + std::to_string(i));
  }
}

TEST(OpsParity, F32MatchesF64) {
  std::mt19937 gen(18);
  const int64_t n = 8, c = 48, oc = 24;
  auto E = [](const Tensor& like, DType dt) { return Tensor::empty(like.shape(), dt); };
  auto Z = [](const Shape& s, DType dt) { return Tensor::zeros(s, dt); };

  expect_f32_matches_f64(
      "linear", {randn({n, c}, gen), randn({oc, c}, gen), randn({oc}, gen), randn({n, oc}, gen)},
      [&](const std::vector<Tensor>& x, DType dt) {
        Tensor out = Z({n, oc}, dt), din = Z({n, c}, dt), dw = Z({oc, c}, dt), db = Z({oc}, dt);
        ops::linear_forward(out, x[0], x[1], x[2]);
        ops::linear_backward(din, dw, db, x[3], x[0], x[1]);
        return std::vector<Tensor>{out, din, dw, db};
      });
  expect_f32_matches_f64("layernorm",
                         {randn({n, c}, gen), randn({c}, gen), randn({c}, gen), randn({n, c}, gen)},
                         [&](const std::vector<Tensor>& x, DType dt) {
                           Tensor out = E(x[0], dt), mean = Z({n}, dt), rstd = Z({n}, dt);
                           Tensor din = E(x[0], dt), dw = Z({c}, dt), db = Z({c}, dt);
                           ops::layernorm_forward(out, mean, rstd, x[0], x[1], x[2], 1e-5);
                           ops::layernorm_backward(din, dw, db, x[3], x[0], x[1], mean, rstd);
                           return std::vector<Tensor>{out, mean, rstd, din, dw, db};
                         });
  expect_f32_matches_f64("rmsnorm", {randn({n, c}, gen), randn({c}, gen), randn({n, c}, gen)},
                         [&](const std::vector<Tensor>& x, DType dt) {
                           Tensor out = E(x[0], dt), rstd = Z({n}, dt), din = E(x[0], dt), dw = Z({c}, dt);
                           ops::rmsnorm_forward(out, rstd, x[0], x[1], 1e-5);
                           ops::rmsnorm_backward(din, dw, x[2], x[0], x[1], rstd);
                           return std::vector<Tensor>{out, rstd, din, dw};
                         });
  expect_f32_matches_f64("gelu", {randn({n, c}, gen, f64, 2.0), randn({n, c}, gen)},
                         [&](const std::vector<Tensor>& x, DType dt) {
                           Tensor out = E(x[0], dt), din = E(x[0], dt);
                           ops::gelu_forward(out, x[0]);
                           ops::gelu_backward(din, x[1], x[0]);
                           return std::vector<Tensor>{out, din};
                         });
  expect_f32_matches_f64("swiglu", {randn({n, 2 * c}, gen, f64, 2.0), randn({n, c}, gen)},
                         [&](const std::vector<Tensor>& x, DType dt) {
                           Tensor out = Z({n, c}, dt), din = E(x[0], dt);
                           ops::swiglu_forward(out, x[0]);
                           ops::swiglu_backward(din, x[1], x[0]);
                           return std::vector<Tensor>{out, din};
                         });
  expect_f32_matches_f64("rope", {randn({2, 5, 3, 16}, gen)}, [&](const std::vector<Tensor>& x, DType dt) {
    Tensor out = E(x[0], dt), back = E(x[0], dt);
    ops::rope_forward(out, x[0], 10000.0, 3);
    ops::rope_backward(back, x[0], 10000.0, 3);
    return std::vector<Tensor>{out, back};
  });
  expect_f32_matches_f64("attention",
                         {randn({2, 13, 4, 8}, gen), randn({2, 13, 2, 8}, gen), randn({2, 13, 2, 8}, gen),
                          randn({2, 13, 4, 8}, gen)},
                         [&](const std::vector<Tensor>& x, DType dt) {
                           Tensor out = E(x[0], dt), lse = Z({2, 4, 13}, dt);
                           Tensor dq = E(x[0], dt), dk = E(x[1], dt), dv = E(x[2], dt);
                           ops::attention_forward(out, lse, x[0], x[1], x[2]);
                           ops::attention_backward(dq, dk, dv, x[3], x[0], x[1], x[2], out, lse);
                           return std::vector<Tensor>{out, lse, dq, dk, dv};
                         });
  expect_f32_matches_f64("softmax", {randn({n, c}, gen, f64, 3.0), randn({n, c}, gen)},
                         [&](const std::vector<Tensor>& x, DType dt) {
                           Tensor out = E(x[0], dt), din = E(x[0], dt);
                           ops::softmax_forward(out, x[0]);
                           ops::softmax_backward(din, x[1], out);
                           return std::vector<Tensor>{out, din};
                         });
  expect_f32_matches_f64("cross_entropy",
                         {randn({n, c}, gen, f64, 3.0), int_tensor({0, 5, -1, 39, 7, 7, 20, 1})},
                         [&](const std::vector<Tensor>& x, DType dt) {
                           Tensor losses = Z({n}, dt), lse = Z({n}, dt), dlogits = E(x[0], dt);
                           ops::cross_entropy_forward(losses, lse, x[0], x[1], 40);
                           ops::cross_entropy_backward(dlogits, x[0], lse, x[1], 40, 0.125);
                           return std::vector<Tensor>{losses, lse, dlogits};
                         });
  expect_f32_matches_f64("embedding",
                         {randn({10, c}, gen), int_tensor({3, 3, 9, 0, 1, 3, 2, 8}), randn({n, c}, gen)},
                         [&](const std::vector<Tensor>& x, DType dt) {
                           Tensor out = Z({n, c}, dt), dw = Z({10, c}, dt);
                           ops::embedding_forward(out, x[1], x[0]);
                           ops::embedding_backward(dw, x[2], x[1]);
                           return std::vector<Tensor>{out, dw};
                         });
  Tensor v0 = randn({n}, gen, f64, 0.1);
  for (int64_t i = 0; i < n; ++i) v0.data<double>()[i] *= v0.data<double>()[i];  // second moments are >= 0
  expect_f32_matches_f64("adamw", {randn({n}, gen), randn({n}, gen), randn({n}, gen, f64, 0.1), v0},
                         [&](const std::vector<Tensor>& x, DType) {
                           Tensor p = x[0].clone(), m = x[2].clone(), v = x[3].clone();
                           ops::adamw_step(p, x[1], m, v, {1e-2, 0.9, 0.95, 1e-8, 0.1, 4});
                           return std::vector<Tensor>{p, m, v};
                         });
}

}  // namespace
}  // namespace trident
