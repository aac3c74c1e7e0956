// The tensor-parallel layers over the world communicator against the same layer unsplit: every rank builds
// the unsharded layer on its own ParamSet (TpGroup{}) and the sharded layer over TpGroup::of(world()) from
// the same global weights, runs forward and backward on the same inputs, and compares outputs, input
// gradients and every parameter-gradient slice (through ShardSpec::global_index). f64 throughout, so the only
// differences are summation order. Every dimension is a multiple of 24, so the split is even at np 2, 3,
// 4, 8.
#include <cmath>
#include <cstdint>
#include <string>

#include "core/ops/ops.h"
#include "core/tensor/param_set.h"
#include "tensor_parallel/column_parallel_linear.h"
#include "tensor_parallel/mappings.h"
#include "tensor_parallel/row_parallel_linear.h"
#include "tensor_parallel/vocab_parallel_cross_entropy.h"
#include "tensor_parallel/vocab_parallel_embedding.h"
#include "tests/multirank/multirank.h"

namespace trident::test {
namespace {

using tp::TpGroup;

constexpr double kTol = 1e-10;

TpGroup tp_world() {
  return TpGroup::of(world());
}

// A smooth deterministic value of (salt, global index), in (-1, 1).
double smooth(uint64_t salt, int64_t i) {
  return std::sin(0.7 * static_cast<double>(i) + 1.3 * static_cast<double>(salt % 1000) + 0.1);
}

uint64_t salt_of(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

// Every parameter value = f(name, global index) (so the shard is the slice, biases non-zero); grads zeroed.
void fill_params(ParamSet& ps) {
  for (Param& p : ps.params()) {
    const uint64_t salt = salt_of(p.name);
    for (int64_t i = 0; i < p.value.numel(); ++i) {
      const double v = 0.5 * smooth(salt, p.shard.global_index(p.global_shape, i));
      p.value.data<double>()[i] = v;
    }
  }
  ps.zero_grads();
}

Tensor input(const Shape& shape, uint64_t salt) {
  Tensor t = Tensor::empty(shape, DType::f64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = smooth(salt, i);
  return t;
}

void expect_close(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, kTol * std::max(1.0, std::abs(want))) << what << " (rank " << world().rank() << ")";
}

// Same numel, compared element by element.
void expect_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.numel(), want.numel()) << what;
  for (int64_t i = 0; i < got.numel(); ++i)
    expect_close(got.item(i), want.item(i), what + " [" + std::to_string(i) + "]");
}

// got (N, local cols) against columns of want (N, global cols) chosen by the spec along dim 0 of a
// (global cols) vector: local column j is global column spec.global_index({cols}, j).
void expect_columns(const Tensor& got, const Tensor& want, const ShardSpec& spec, const std::string& what) {
  const int64_t n = want.dim(0), cols = want.dim(1), local = got.dim(1);
  ASSERT_EQ(got.dim(0), n) << what;
  ASSERT_EQ(local * spec.parts, cols) << what;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < local; ++j)
      expect_close(got.item(i * local + j), want.item(i * cols + spec.global_index({cols}, j)),
                   what + " (" + std::to_string(i) + ", " + std::to_string(j) + ")");
}

// Every gradient of `sharded` against the slice of the same-named gradient of `full`.
void expect_grads(const ParamSet& sharded, const ParamSet& full) {
  for (const Param& p : sharded.params()) {
    const Param* ref = full.find(p.name);
    ASSERT_NE(ref, nullptr) << p.name;
    ASSERT_EQ(ref->global_shape, p.global_shape) << p.name;
    for (int64_t i = 0; i < p.grad.numel(); ++i) {
      const int64_t g = p.shard.global_index(p.global_shape, i);
      expect_close(p.grad.item(i), ref->grad.item(g), p.name + ".grad [" + std::to_string(g) + "]");
    }
  }
}

// This rank's columns of a full (N, cols) tensor, per spec (as expect_columns).
Tensor take_columns(const Tensor& full, const ShardSpec& spec) {
  const int64_t n = full.dim(0), cols = full.dim(1), local = cols / spec.parts;
  Tensor out = Tensor::empty({n, local}, full.dtype());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < local; ++j)
      out.data<double>()[i * local + j] = full.data<double>()[i * cols + spec.global_index({cols}, j)];
  return out;
}

ShardSpec col_spec(int segments = 1) {
  return ShardSpec{0, world().size(), world().rank(), segments};
}

constexpr int64_t N = 48, C = 24;

// ---- mappings -------------------------------------------------------------------------------------------

TEST(TpMappings, FAndG) {
  const TpGroup g = tp_world();
  const int P = g.size;
  // f forward is the identity; f backward sums the group's gradients.
  Tensor dx = make(DType::f64, 30, [&](int64_t i) { return value(g.rank, i); });
  tp::f_forward(g, dx);
  tp::f_backward(g, dx);
  // g forward sums the partials; g backward is the identity.
  Tensor y = make(DType::f64, 30, [&](int64_t i) { return value(g.rank, i) * 0.5; });
  tp::g_forward(g, y);
  tp::g_backward(g, y);
  for (int64_t i = 0; i < 30; ++i) {
    double sum = 0;
    for (int q = 0; q < P; ++q) sum += value(q, i);
    EXPECT_EQ(dx.item(i), sum) << i;
    EXPECT_EQ(y.item(i), 0.5 * sum) << i;
  }
  // A group of one communicates nothing and needs no communicator.
  Tensor one = make(DType::f64, 5, [](int64_t i) { return double(i); });
  tp::g_forward(TpGroup{}, one);
  tp::f_backward(TpGroup{}, one);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(one.item(i), double(i));
  // More than one rank without a communicator is refused by name.
  EXPECT_NE(error_of([&] {
              tp::g_forward(TpGroup{2, 0, nullptr}, one);
            }).find("needs a communicator"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              tp::g_forward(TpGroup{P + 1, 0, &world()}, one);
            }).find("communicator 'world'"),
            std::string::npos);
}

TEST(TpMappings, SequenceParallelGatherAndScatter) {
  const TpGroup g = tp_world();
  const int P = g.size;
  const int64_t rows = N / P;
  // Layout: rank r holds rows [r*N/P, (r+1)*N/P) of the flattened (B*T, C) = (N, C) tensor.
  const Tensor full = input({N, C}, 1);
  Tensor gathered = Tensor::zeros({N, C}, DType::f64);
  tp::sp_gather_forward(g, gathered, tp::sp_rows(g, full).clone());
  expect_equal(gathered, full, "sp_gather forward");

  // Each rank's dout (N, C) differs; sp_gather backward = this rank's rows of the sum.
  auto per_rank = [&](int q, int64_t i) { return smooth(100 + q, i); };
  Tensor dout = Tensor::empty({N, C}, DType::f64);
  for (int64_t i = 0; i < N * C; ++i) dout.data<double>()[i] = per_rank(g.rank, i);
  Tensor din = Tensor::zeros({rows, C}, DType::f64);
  tp::sp_gather_backward(g, din, dout);
  Tensor scattered = Tensor::zeros({rows, C}, DType::f64);
  tp::sp_scatter_forward(g, scattered, dout);
  for (int64_t k = 0; k < rows * C; ++k) {
    double sum = 0;
    for (int q = 0; q < P; ++q) sum += per_rank(q, g.rank * rows * C + k);
    expect_close(din.item(k), sum, "sp_gather backward");
    expect_close(scattered.item(k), sum, "sp_scatter forward");
  }
  // sp_scatter backward all-gathers the row blocks.
  Tensor dfull = Tensor::zeros({N, C}, DType::f64);
  tp::sp_scatter_backward(g, dfull, tp::sp_rows(g, full).clone());
  expect_equal(dfull, full, "sp_scatter backward");

  // (B, T, C) with B = 2: the row blocks are blocks of the flattened B*T rows, for any tp dividing B*T.
  const Tensor btc = input({2, N / 2, C}, 2);
  Tensor back = Tensor::zeros({2, N / 2, C}, DType::f64);
  Tensor back2 = back.view({N, C});
  tp::sp_gather_forward(g, back2, tp::sp_rows(g, btc.view({N, C})).clone());
  expect_equal(back, btc, "sp_gather forward of (B, T, C)");
}

// ---- column and row parallel linear ---------------------------------------------------------------------

void check_column(bool bias, int segments) {
  const std::string what =
      std::string("bias=") + (bias ? "1" : "0") + " segments=" + std::to_string(segments);
  SCOPED_TRACE(what);
  const int64_t IN = 24, OUT = 72;
  ParamSet ref_ps, tp_ps;
  tp::ColumnParallelLinear ref(ref_ps, "col", IN, OUT, bias, 0.02, TpGroup{}, segments);
  tp::ColumnParallelLinear par(tp_ps, "col", IN, OUT, bias, 0.02, tp_world(), segments);
  ref_ps.finalize(DType::f64);
  tp_ps.finalize(DType::f64);
  fill_params(ref_ps);
  fill_params(tp_ps);
  EXPECT_EQ(par.local_out(), OUT / world().size());
  if (bias) {
    EXPECT_EQ(par.bias()->shard.segments, segments);
  }

  const Tensor x = input({N, IN}, 3), dout_full = input({N, OUT}, 4);
  Tensor y_ref = Tensor::zeros({N, OUT}, DType::f64), dx_ref = Tensor::zeros({N, IN}, DType::f64);
  ref.forward(y_ref, x);
  ref.backward(dx_ref, dout_full, x);

  Tensor y = Tensor::zeros({N, par.local_out()}, DType::f64), dx = Tensor::zeros({N, IN}, DType::f64);
  par.forward(y, x);
  par.backward(dx, take_columns(dout_full, col_spec(segments)), x);
  expect_columns(y, y_ref, col_spec(segments), "column output");
  expect_equal(dx, dx_ref, "column din");
  expect_grads(tp_ps, ref_ps);
}

TEST(TpLayers, ColumnParallelLinear) {
  for (bool bias : {false, true})
    for (int segments : {1, 3}) check_column(bias, segments);
}

TEST(TpLayers, RowParallelLinearWithBias) {
  const int P = world().size();
  const int64_t IN = 72, OUT = 24;
  ParamSet ref_ps, tp_ps;
  tp::RowParallelLinear ref(ref_ps, "row", IN, OUT, true, 0.02);
  tp::RowParallelLinear par(tp_ps, "row", IN, OUT, true, 0.02, tp_world());
  ref_ps.finalize(DType::f64);
  tp_ps.finalize(DType::f64);
  fill_params(ref_ps);
  fill_params(tp_ps);
  EXPECT_EQ(par.local_in(), IN / P);
  EXPECT_TRUE(par.bias()->shard.replicated());

  // The input columns of this rank: a row-parallel layer's input is split like a column layer's output.
  const ShardSpec in_cols{0, P, world().rank()};
  const Tensor x = input({N, IN}, 5), dout = input({N, OUT}, 6);
  Tensor y_ref = Tensor::zeros({N, OUT}, DType::f64), dx_ref = Tensor::zeros({N, IN}, DType::f64);
  ref.forward(y_ref, x);
  ref.backward(dx_ref, dout, x);

  const Tensor x_local = take_columns(x, in_cols);
  Tensor y = Tensor::zeros({N, OUT}, DType::f64), dx = Tensor::zeros({N, IN / P}, DType::f64);
  par.forward(y, x_local);
  par.backward(dx, dout, x_local);
  expect_equal(y, y_ref, "row output (after g)");
  expect_columns(dx, dx_ref, in_cols, "row din");
  expect_grads(tp_ps, ref_ps);
}

// Column -> activation -> row, as in the transformer MLP: f at the entry, g at the exit. With swiglu the
// column layer is a fused gate_up (segments 2), so each rank's [gate_r | up_r] feeds its own swiglu.
void check_mlp(bool swiglu, bool sequence_parallel) {
  SCOPED_TRACE(std::string(swiglu ? "swiglu" : "gelu") + (sequence_parallel ? " sequence-parallel" : ""));
  const TpGroup g = tp_world();
  const int P = g.size;
  const int64_t F = 96, UP = swiglu ? 2 * F : F;
  const int segments = swiglu ? 2 : 1;
  ParamSet ref_ps, tp_ps;
  tp::ColumnParallelLinear ref_up(ref_ps, "mlp.up", C, UP, true, 0.02, TpGroup{}, segments);
  tp::RowParallelLinear ref_down(ref_ps, "mlp.down", F, C, true, 0.02);
  tp::ColumnParallelLinear up(tp_ps, "mlp.up", C, UP, true, 0.02, g, segments, sequence_parallel);
  tp::RowParallelLinear down(tp_ps, "mlp.down", F, C, true, 0.02, g, sequence_parallel);
  ref_ps.finalize(DType::f64);
  tp_ps.finalize(DType::f64);
  fill_params(ref_ps);
  fill_params(tp_ps);

  auto run = [&](const tp::ColumnParallelLinear& u, const tp::RowParallelLinear& d, const Tensor& x,
                 const Tensor& dy, Tensor& y, Tensor& dx) {
    const int64_t rows = u.sequence_parallel() ? x.dim(0) * P : x.dim(0);
    const int64_t hidden = swiglu ? u.local_out() / 2 : u.local_out();
    Tensor h = Tensor::zeros({rows, u.local_out()}, DType::f64),
           a = Tensor::zeros({rows, hidden}, DType::f64);
    u.forward(h, x);
    swiglu ? ops::swiglu_forward(a, h) : ops::gelu_forward(a, h);
    d.forward(y, a);
    Tensor da = Tensor::zeros(a.shape(), DType::f64), dh = Tensor::zeros(h.shape(), DType::f64);
    d.backward(da, dy, a);
    swiglu ? ops::swiglu_backward(dh, da, h) : ops::gelu_backward(dh, da, h);
    u.backward(dx, dh, x);
  };

  const Tensor x = input({N, C}, 7), dy = input({N, C}, 8);
  Tensor y_ref = Tensor::zeros({N, C}, DType::f64), dx_ref = Tensor::zeros({N, C}, DType::f64);
  run(ref_up, ref_down, x, dy, y_ref, dx_ref);

  if (!sequence_parallel) {
    Tensor y = Tensor::zeros({N, C}, DType::f64), dx = Tensor::zeros({N, C}, DType::f64);
    run(up, down, x, dy, y, dx);
    expect_equal(y, y_ref, "mlp output");
    expect_equal(dx, dx_ref, "mlp din");
  } else {
    // Input, output and their gradients are this rank's block of rows.
    Tensor y = Tensor::zeros({N / P, C}, DType::f64), dx = Tensor::zeros({N / P, C}, DType::f64);
    run(up, down, tp::sp_rows(g, x).clone(), tp::sp_rows(g, dy).clone(), y, dx);
    expect_equal(y, tp::sp_rows(g, y_ref), "sequence-parallel mlp output rows");
    expect_equal(dx, tp::sp_rows(g, dx_ref), "sequence-parallel mlp din rows");
  }
  expect_grads(tp_ps, ref_ps);
}

TEST(TpLayers, ColumnRowMlpPair) {
  for (bool swiglu : {false, true}) check_mlp(swiglu, false);
}

TEST(TpLayers, SequenceParallelMlpPair) {
  for (bool swiglu : {false, true}) check_mlp(swiglu, true);
}

TEST(TpLayers, SequenceParallelColumn) {
  const TpGroup g = tp_world();
  const int P = g.size;
  const int64_t IN = 24, OUT = 72;
  for (int segments : {1, 3}) {
    SCOPED_TRACE("segments " + std::to_string(segments));
    ParamSet ref_ps, tp_ps;
    tp::ColumnParallelLinear ref(ref_ps, "col", IN, OUT, true, 0.02, TpGroup{}, segments);
    tp::ColumnParallelLinear par(tp_ps, "col", IN, OUT, true, 0.02, g, segments, /*sequence_parallel=*/true);
    ref_ps.finalize(DType::f64);
    tp_ps.finalize(DType::f64);
    fill_params(ref_ps);
    fill_params(tp_ps);
    const Tensor x = input({N, IN}, 9), dout = input({N, OUT}, 10);
    Tensor y_ref = Tensor::zeros({N, OUT}, DType::f64), dx_ref = Tensor::zeros({N, IN}, DType::f64);
    ref.forward(y_ref, x);
    ref.backward(dx_ref, dout, x);

    // in: this rank's rows (N/tp, IN); out: every row, this rank's columns.
    const Tensor x_rows = tp::sp_rows(g, x).clone();
    Tensor y = Tensor::zeros({N, OUT / P}, DType::f64), dx = Tensor::zeros({N / P, IN}, DType::f64);
    par.forward(y, x_rows);
    par.backward(dx, take_columns(dout, col_spec(segments)), x_rows);
    expect_columns(y, y_ref, col_spec(segments), "sp column output");
    expect_equal(dx, tp::sp_rows(g, dx_ref), "sp column din rows");
    expect_grads(tp_ps, ref_ps);
  }
}

TEST(TpLayers, SequenceParallelRow) {
  const TpGroup g = tp_world();
  const int P = g.size;
  const int64_t IN = 72, OUT = 24;
  ParamSet ref_ps, tp_ps;
  tp::RowParallelLinear ref(ref_ps, "row", IN, OUT, true, 0.02);
  tp::RowParallelLinear par(tp_ps, "row", IN, OUT, true, 0.02, g, /*sequence_parallel=*/true);
  ref_ps.finalize(DType::f64);
  tp_ps.finalize(DType::f64);
  fill_params(ref_ps);
  fill_params(tp_ps);
  const ShardSpec in_cols{0, P, g.rank};
  const Tensor x = input({N, IN}, 11), dout = input({N, OUT}, 12);
  Tensor y_ref = Tensor::zeros({N, OUT}, DType::f64), dx_ref = Tensor::zeros({N, IN}, DType::f64);
  ref.forward(y_ref, x);
  ref.backward(dx_ref, dout, x);

  // in: every row, this rank's columns; out: this rank's rows (N/tp, OUT) after the reduce-scatter.
  const Tensor x_local = take_columns(x, in_cols);
  Tensor y = Tensor::zeros({N / P, OUT}, DType::f64), dx = Tensor::zeros({N, IN / P}, DType::f64);
  par.forward(y, x_local);
  par.backward(dx, tp::sp_rows(g, dout).clone(), x_local);
  expect_equal(y, tp::sp_rows(g, y_ref), "sp row output rows");
  expect_columns(dx, dx_ref, in_cols, "sp row din");
  expect_grads(tp_ps, ref_ps);
}

// ---- vocab-parallel embedding ---------------------------------------------------------------------------

void check_embedding(bool sequence_parallel) {
  SCOPED_TRACE(sequence_parallel ? "sequence-parallel" : "all-reduce");
  const TpGroup g = tp_world();
  const int P = g.size;
  const int64_t VP = 48;
  ParamSet ref_ps, tp_ps;
  tp::VocabParallelEmbedding ref(ref_ps, "embed.wte", VP, C, 0.02);
  tp::VocabParallelEmbedding par(tp_ps, "embed.wte", VP, C, 0.02, g, sequence_parallel);
  ref_ps.finalize(DType::f64);
  tp_ps.finalize(DType::f64);
  fill_params(ref_ps);
  fill_params(tp_ps);
  EXPECT_EQ(par.vocab_begin(), g.rank * VP / P);
  EXPECT_EQ(par.vocab_end(), (g.rank + 1) * VP / P);
  const Param& w = par.weight();
  EXPECT_EQ(w.global_shape, (Shape{VP, C}));
  EXPECT_EQ(w.shard.dim, 0);
  EXPECT_EQ(w.shard.parts, P);
  EXPECT_EQ(w.shard.index, g.rank);

  // Ids cover every rank's range (every id in [0, VP) at least once) and repeat, so rows accumulate.
  std::vector<float> ids(N);
  for (int64_t i = 0; i < N; ++i) ids[i] = static_cast<float>((i * 7 + 3) % VP);
  const Tensor tokens = Tensor::from_vector(ids, {N}, DType::i32);
  const Tensor dout = input({N, C}, 13);

  Tensor y_ref = Tensor::zeros({N, C}, DType::f64);
  ref.forward(y_ref, tokens);
  ref.backward(dout, tokens);
  // The unsplit layer is the plain lookup.
  Tensor y_plain = Tensor::zeros({N, C}, DType::f64);
  ops::embedding_forward(y_plain, tokens, ref.weight().value);
  expect_equal(y_ref, y_plain, "unsplit lookup");

  if (!sequence_parallel) {
    Tensor y = Tensor::zeros({N, C}, DType::f64);
    par.forward(y, tokens);
    par.backward(dout, tokens);
    expect_equal(y, y_ref, "embedding output");
  } else {
    Tensor y = Tensor::zeros({N / P, C}, DType::f64);
    par.forward(y, tokens);
    par.backward(tp::sp_rows(g, dout).clone(), tokens);
    expect_equal(y, tp::sp_rows(g, y_ref), "sequence-parallel embedding output rows");
  }
  expect_grads(tp_ps, ref_ps);
}

TEST(TpLayers, VocabParallelEmbedding) {
  check_embedding(false);
  check_embedding(true);
}

// ---- vocab-parallel cross-entropy -----------------------------------------------------------------------

void check_cross_entropy(DType dtype) {
  SCOPED_TRACE(dtype_name(dtype));
  const TpGroup g = tp_world();
  const int P = g.size;
  // 41 real columns of 48: not divisible by 2, 3, 4 or 8; at np 8 the last rank holds only padding.
  const int64_t VP = 48, V = 41, L = VP / P;
  const double tol = dtype == DType::f64 ? kTol : 1e-5;
  Tensor full64 = input({N, VP}, 14);
  ops::scale_inplace(full64, 4.0);
  const Tensor full = full64.to(dtype);
  // Targets in every rank's real columns (5 generates Z/41), the last real id, and ignored rows.
  std::vector<float> tv(N);
  for (int64_t i = 0; i < N; ++i) tv[i] = i % 9 == 4 ? -1.0f : static_cast<float>((i * 5) % V);
  tv[N - 1] = static_cast<float>(V - 1);
  const Tensor targets = Tensor::from_vector(tv, {N}, DType::i32);
  int64_t count = 0;
  for (float t : tv) count += t >= 0;
  const double scale = 1.0 / static_cast<double>(count);

  Tensor loss_ref = Tensor::zeros({N}, dtype), lse_ref = Tensor::zeros({N}, dtype);
  Tensor dlogits_ref = Tensor::zeros({N, VP}, dtype);
  ops::cross_entropy_forward(loss_ref, lse_ref, full, targets, V);
  ops::cross_entropy_backward(dlogits_ref, full, lse_ref, targets, V, scale);

  const ShardSpec cols{0, P, g.rank};
  Tensor local = take_columns(full64, cols).to(dtype);
  Tensor loss = Tensor::zeros({N}, dtype), lse = Tensor::zeros({N}, dtype);
  tp::vocab_parallel_cross_entropy_forward(g, loss, lse, local, targets, V);
  tp::vocab_parallel_cross_entropy_backward(g, local, local, lse, targets, V, scale);  // in place
  ASSERT_EQ(local.dim(1), L);
  for (int64_t i = 0; i < N; ++i) {
    EXPECT_NEAR(loss.item(i), loss_ref.item(i), tol * std::max(1.0, std::abs(loss_ref.item(i))))
        << "loss " << i;
    EXPECT_NEAR(lse.item(i), lse_ref.item(i), tol * std::max(1.0, std::abs(lse_ref.item(i)))) << "lse " << i;
    if (tv[i] < 0) {
      EXPECT_EQ(loss.item(i), 0.0) << "ignored row " << i;
    }
    for (int64_t j = 0; j < L; ++j) {
      const int64_t gj = g.rank * L + j;
      EXPECT_NEAR(local.item(i * L + j), dlogits_ref.item(i * VP + gj), tol)
          << "dlogits (" << i << ", " << gj << ")";
      if (gj >= V || tv[i] < 0) {
        EXPECT_EQ(local.item(i * L + j), 0.0) << "padded or ignored (" << i << ", " << gj << ")";
      }
    }
  }
}

TEST(TpLayers, VocabParallelCrossEntropyPaddedVocab) {
  check_cross_entropy(DType::f64);
  check_cross_entropy(DType::f32);
}

TEST(TpLayers, VocabParallelCrossEntropyRejectsBadTargets) {
  const TpGroup g = tp_world();
  Tensor logits = Tensor::zeros({2, 48 / g.size}, DType::f64), loss = Tensor::zeros({2}, DType::f64),
         lse = Tensor::zeros({2}, DType::f64);
  const Tensor targets = Tensor::from_vector({0.0f, 41.0f}, {2}, DType::i32);
  EXPECT_NE(error_of([&] {
              tp::vocab_parallel_cross_entropy_forward(g, loss, lse, logits, targets, 41);
            }).find("outside the vocabulary"),
            std::string::npos);
}

}  // namespace
}  // namespace trident::test
