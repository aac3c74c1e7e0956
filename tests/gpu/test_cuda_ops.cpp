// Every CUDA op (core/ops/cuda/cuda_ops.h) against the CPU reference (core/ops/cpu/) on fresh random inputs,
// in f32, bf16 and f16.
//
// Method, the same for every op:
//   * inputs are drawn in f32 from the counter RNG (never zeros), rounded once to the dtype under test; the
//   GPU
//     gets the rounded values in that dtype, the CPU reference the same rounded values widened back to f32,
//     so both sides see identical inputs and the reference itself is not rounded;
//   * every output the GPU op writes is POISONED with NaN first, so an element the kernel forgets stays NaN
//     and fails; outputs the contract accumulates into (dweight, dbias, matmul with beta) start from the same
//     random values on both sides;
//   * error = max_i |gpu_i - ref_i| / max_i |ref_i| over the whole tensor (a tensor-wide scale, so elements
//     near zero are not held to a relative bar they cannot meet); a non-finite GPU element is an infinite
//     error. Bars per dtype: f32 1e-5; bf16 1e-2 (8 significant bits: rounding the output alone costs up to
//     2^-8 = 3.9e-3, so the bar leaves room for one more rounded intermediate); f16 5e-3 (11 bits: 2^-11 =
//     4.9e-4 per rounding, ten of them). Run through the CPU op on bf16/f16 storage (one rounding of each
//     output) in place of the GPU, every test here lands under 0.45 of its bar in bf16 and 0.13 in f16.
// Each op also refuses a CPU tensor among GPU tensors, naming the op. Every test skips, with the reason, when
// there is no GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/ops/layout.h"
#include "core/ops/ops.h"
#include "core/runtime/devices.h"
#include "core/runtime/rng.h"

namespace trident {
namespace {

const Device kGpu = Device::cuda(0);

std::string no_gpu_reason() {
  std::string why;
  if (!cuda_devices(&why).empty()) return {};
  return "no CUDA device: " + why;
}

// ---- Tolerances -------------------------------------------------------------------------------------------

double bar(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 1e-5;
    case DType::bf16:
      return 1e-2;
    case DType::f16:
      return 5e-3;
    default:
      ADD_FAILURE() << "no bar for " << dtype_name(dtype);
      return 0;
  }
}

// ---- Inputs -----------------------------------------------------------------------------------------------

// One input: `ref` holds the dtype-rounded values widened to f32 on the CPU (what the reference op reads),
// `dev` the same values in the dtype under test on the GPU.
struct Pair {
  Tensor ref, dev;
};

// Fresh random inputs for one test: a counter-RNG stream per call, keyed by the test's name, so tests are
// independent and every run of a test draws the same values.
class Inputs {
 public:
  explicit Inputs(DType dtype) : dtype_(dtype) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    seed_ = fnv1a64(std::string(info->test_suite_name()) + "." + info->name());
  }
  DType dtype() const { return dtype_; }

  // mean + scale * N(0, 1), nudged away from exact zero (an all-zero input hides a missing read).
  Tensor normal_f32(const Shape& shape, double scale = 1.0, double mean = 0.0) {
    const CounterRng rng(seed_, next_++);
    Tensor t = Tensor::empty(shape, DType::f32);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      double x = mean + scale * rng.normal(static_cast<uint64_t>(i));
      if (x == 0.0) x = 1e-3 * scale;
      p[i] = static_cast<float>(x);
    }
    return t;
  }
  Pair normal(const Shape& shape, double scale = 1.0, double mean = 0.0) {
    return round(normal_f32(shape, scale, mean));
  }
  // f32 values rounded to the dtype: the reference's copy and the GPU's.
  Pair round(const Tensor& f32) const {
    const Tensor rounded = f32.to(dtype_);
    return {rounded.to(DType::f32), rounded.to(kGpu)};
  }
  // i32 ids in [lo, hi), on the CPU; `ignore_every` > 0 makes every such position -1.
  Tensor ids(const Shape& shape, int64_t lo, int64_t hi, int64_t ignore_every = 0) {
    const CounterRng rng(seed_, next_++);
    Tensor t = Tensor::empty(shape, DType::i32);
    int32_t* p = t.data<int32_t>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      p[i] = static_cast<int32_t>(
          lo + static_cast<int64_t>(rng.u64(static_cast<uint64_t>(i)) % static_cast<uint64_t>(hi - lo)));
      if (ignore_every > 0 && i % ignore_every == ignore_every - 1) p[i] = -1;
    }
    return t;
  }

 private:
  DType dtype_;
  uint64_t seed_ = 0;
  uint64_t next_ = 1;
};

// A GPU output the op must write: every element NaN until it does.
Tensor poisoned(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype, kGpu);
  t.fill(std::nan(""));
  return t;
}

// The reference's output on the CPU, f32; NaN too, so a reference that skips an element shows up.
Tensor ref_out(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::f32);
  t.fill(std::nan(""));
  return t;
}

// ---- Comparison -------------------------------------------------------------------------------------------

struct Mismatch {
  double rel = 0;   // max |got - ref| / max |ref|; infinity when got has a non-finite element
  int64_t at = -1;  // where the largest difference is
  int64_t bad = 0;  // non-finite elements in got
  double got_at = 0, ref_at = 0, ref_max = 0;
};

Mismatch max_rel_error(const Tensor& got_any, const Tensor& ref_any, double scale_floor) {
  const std::vector<float> got = got_any.to(Device::cpu()).to_vector();
  const std::vector<float> ref = ref_any.to(Device::cpu()).to_vector();
  Mismatch e;
  double max_diff = 0;
  for (size_t i = 0; i < ref.size(); ++i) e.ref_max = std::max(e.ref_max, std::abs(double{ref[i]}));
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    const double g = got[i], r = ref[i];
    if (!std::isfinite(g)) {
      if (e.bad++ == 0) e.at = static_cast<int64_t>(i), e.got_at = g, e.ref_at = r;
      continue;
    }
    const double d = std::abs(g - r);
    if (e.bad == 0 && d > max_diff) max_diff = d, e.at = static_cast<int64_t>(i), e.got_at = g, e.ref_at = r;
  }
  const double scale = std::max(e.ref_max, scale_floor), inf = std::numeric_limits<double>::infinity();
  if (e.bad > 0) {
    e.rel = inf;
  } else if (scale > 0) {
    e.rel = max_diff / scale;
  } else {
    e.rel = max_diff > 0 ? inf : 0;  // an all-zero reference: only zeros match it
  }
  return e;
}

// got (any dtype, any device) against ref (f32 on the CPU): same numel, finite reference, error <= tol.
// scale_floor: the least scale the error is measured against, for an output whose exact value is zero (its
// reference then holds rounding noise only, and max |ref| is no measure of the op's scale).
void expect_close(const std::string& what, const Tensor& got, const Tensor& ref, double tol,
                  double scale_floor = 0) {
  ASSERT_EQ(got.numel(), ref.numel()) << what << ": " << got.str() << " vs reference " << ref.str();
  for (float r : ref.to_vector())
    ASSERT_TRUE(std::isfinite(r)) << what << ": the CPU reference is not finite";
  const Mismatch e = max_rel_error(got, ref, scale_floor);
  EXPECT_LE(e.rel, tol) << what << " (" << got.str() << "): max relative error " << e.rel << " > " << tol
                        << "; " << e.bad << " non-finite element(s); worst at flat index " << e.at << ": gpu "
                        << e.got_at << " vs cpu " << e.ref_at << " (max |ref| " << e.ref_max << ")";
}

bool contains_ci(std::string haystack, std::string needle) {
  const auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  return lower(std::move(haystack)).find(lower(std::move(needle))) != std::string::npos;
}

// `call` mixes one CPU tensor into an op's GPU arguments: it must throw trident::Error naming the op and the
// CPU, not crash, hang or run.
void expect_refuses_cpu(const std::string& op, const std::function<void()>& call) {
  try {
    call();
    ADD_FAILURE() << "ops::" << op << " accepted a CPU tensor among GPU tensors";
  } catch (const trident::Error& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains_ci(msg, op)) << "the message does not name the op " << op << ": " << msg;
    EXPECT_TRUE(contains_ci(msg, "cpu")) << "the message does not say what is on the CPU: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "ops::" << op << " threw a " << typeid(e).name()
                  << " instead of trident::Error: " << e.what();
  }
}

// ---- Fixtures ---------------------------------------------------------------------------------------------

// Parameter: the dtype of every float tensor (statistics stay f32, as the contract says).
class CudaOp : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    if (const std::string why = no_gpu_reason(); !why.empty()) GTEST_SKIP() << why;
  }
  DType dt() const { return GetParam(); }
  double tol() const { return bar(GetParam()); }
};

// Tests without a dtype parameter: the refusals of CPU tensors, and AdamW (f32 only).
class CudaOpRefusesCpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = no_gpu_reason(); !why.empty()) GTEST_SKIP() << why;
  }
};
class CudaOpF32 : public CudaOpRefusesCpu {};

Tensor gpu_f32(const Shape& shape) {
  return Tensor::empty(shape, DType::f32, kGpu);
}

// ---- GEMM -------------------------------------------------------------------------------------------------

struct MatmulCase {
  int64_t m, n, k;
  bool ta, tb;
  double alpha, beta;
};

TEST_P(CudaOp, MatmulEveryTransposeAlphaBeta) {
  Inputs in(dt());
  const std::vector<MatmulCase> cases = {
      {64, 80, 96, false, false, 1.0, 0.0}, {64, 80, 96, true, false, 0.7, 0.0},
      {64, 80, 96, false, true, 1.0, 1.0},  {64, 80, 96, true, true, 1.3, 0.5},
      {33, 45, 17, false, false, 1.0, 0.0}, {33, 45, 17, true, true, -0.5, 2.0},  // odd sizes
      {1, 256, 128, false, true, 1.0, 0.0}, {256, 8, 256, true, false, 1.0, 1.0},
  };
  for (const MatmulCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "m=" << c.m << " n=" << c.n << " k=" << c.k << " ta=" << c.ta
                                      << " tb=" << c.tb << " alpha=" << c.alpha << " beta=" << c.beta);
    const Pair a = in.normal(c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k});
    const Pair b = in.normal(c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n});
    Pair out = c.beta != 0.0 ? in.normal({c.m, c.n}) : Pair{ref_out({c.m, c.n}), poisoned({c.m, c.n}, dt())};
    // beta == 0: out is never read (BLAS semantics), so NaN there must not leak into the result.
    ops::matmul(out.ref, a.ref, b.ref, c.ta, c.tb, c.alpha, c.beta);
    ops::matmul(out.dev, a.dev, b.dev, c.ta, c.tb, c.alpha, c.beta);
    expect_close("matmul out", out.dev, out.ref, tol());
  }
}

TEST_P(CudaOp, LinearForwardWithAndWithoutBias) {
  Inputs in(dt());
  const int64_t B = 4, T = 16, IC = 96, OC = 160;
  const Pair x = in.normal({B, T, IC}), w = in.normal({OC, IC}, 0.1), b = in.normal({OC});
  for (bool with_bias : {true, false}) {
    SCOPED_TRACE(with_bias ? "with bias" : "without bias");
    Tensor ref = ref_out({B, T, OC}), dev = poisoned({B, T, OC}, dt());
    ops::linear_forward(ref, x.ref, w.ref, with_bias ? b.ref : Tensor{});
    ops::linear_forward(dev, x.dev, w.dev, with_bias ? b.dev : Tensor{});
    expect_close("linear_forward out", dev, ref, tol());
  }
}

TEST_P(CudaOp, LinearBackwardWritesDinAccumulatesDweightDbias) {
  Inputs in(dt());
  const int64_t N = 256, IC = 96, OC = 160;
  const Pair x = in.normal({N, IC}), w = in.normal({OC, IC}, 0.1), dout = in.normal({N, OC});
  struct Case {
    bool din, dbias;
  };
  for (const Case c : {Case{true, true}, Case{true, false}, Case{false, true}}) {
    SCOPED_TRACE(::testing::Message() << "din " << c.din << ", dbias " << c.dbias);
    Tensor din_ref = c.din ? ref_out({N, IC}) : Tensor{},
           din_dev = c.din ? poisoned({N, IC}, dt()) : Tensor{};
    Pair dw = in.normal({OC, IC});  // accumulated into: random on both sides
    Pair db = c.dbias ? in.normal({OC}) : Pair{};
    ops::linear_backward(din_ref, dw.ref, db.ref, dout.ref, x.ref, w.ref);
    ops::linear_backward(din_dev, dw.dev, db.dev, dout.dev, x.dev, w.dev);
    if (c.din) expect_close("linear_backward din", din_dev, din_ref, tol());
    expect_close("linear_backward dweight", dw.dev, dw.ref, tol());
    if (c.dbias) expect_close("linear_backward dbias", db.dev, db.ref, tol());
  }
}

TEST_F(CudaOpRefusesCpu, Gemm) {
  Inputs in(DType::f32);
  const Pair a = in.normal({8, 16}), b = in.normal({16, 4}), w = in.normal({4, 16}), bias = in.normal({4});
  Tensor out = gpu_f32({8, 4}), din = gpu_f32({8, 16});
  Pair dw = in.normal({4, 16}), db = in.normal({4});
  expect_refuses_cpu("matmul", [&] { ops::matmul(out, a.dev, b.ref); });
  expect_refuses_cpu("linear_forward", [&] { ops::linear_forward(out, a.dev, w.dev, bias.ref); });
  expect_refuses_cpu("linear_backward",
                     [&] { ops::linear_backward(din, dw.dev, db.ref, out, a.dev, w.dev); });
}

// ---- Embedding ----

// C = 96: rows copied 16 bytes at a time; C = 33: the narrow-word copies.
TEST_P(CudaOp, EmbeddingForward) {
  Inputs in(dt());
  for (const int64_t C : {int64_t{96}, int64_t{33}}) {
    SCOPED_TRACE(::testing::Message() << "C=" << C);
    const int64_t V = 320, B = 4, T = 33;
    const Pair w = in.normal({V, C});
    const Tensor tokens = in.ids({B, T}, 0, V);
    Tensor ref = ref_out({B, T, C}), dev = poisoned({B, T, C}, dt());
    ops::embedding_forward(ref, tokens, w.ref);
    ops::embedding_forward(dev, tokens.to(kGpu), w.dev);
    expect_close("embedding_forward out", dev, ref, tol());
  }
}

// Repeated tokens: rows 0..6 get many rows of dout each (the scatter-add must sum them, not race), most rows
// of dweight none (they must keep their values).
TEST_P(CudaOp, EmbeddingBackwardRepeatedTokensAccumulate) {
  Inputs in(dt());
  const int64_t V = 320, C = 96, B = 4, T = 64;
  Tensor tokens = in.ids({B, T}, 0, V);
  const Tensor hot = in.ids({B, T}, 0, 7);
  for (int64_t i = 0; i < B * T; i += 2) tokens.data<int32_t>()[i] = hot.data<int32_t>()[i];
  const Pair dout = in.normal({B, T, C});
  Pair dw = in.normal({V, C});
  ops::embedding_backward(dw.ref, dout.ref, tokens);
  ops::embedding_backward(dw.dev, dout.dev, tokens.to(kGpu));
  expect_close("embedding_backward dweight", dw.dev, dw.ref, tol());
}

TEST_F(CudaOpRefusesCpu, Embedding) {
  Inputs in(DType::f32);
  const Pair w = in.normal({16, 8}), dout = in.normal({2, 3, 8});
  const Tensor tokens = in.ids({2, 3}, 0, 16);
  Tensor out = gpu_f32({2, 3, 8}), dw = gpu_f32({16, 8});
  expect_refuses_cpu("embedding_forward", [&] { ops::embedding_forward(out, tokens, w.dev); });
  expect_refuses_cpu("embedding_backward", [&] { ops::embedding_backward(dw, dout.dev, tokens); });
}

// One rank's rows of a vocabulary-parallel table: ids outside them give zero rows and no gradient.
TEST_P(CudaOp, VocabRangeEmbeddingForwardAndBackward) {
  Inputs in(dt());
  for (const int64_t C : {int64_t{96}, int64_t{33}}) {
    SCOPED_TRACE(::testing::Message() << "C=" << C);
    const int64_t vocab = 320, begin = 80, rows = 80, B = 4, T = 33;
    const Pair w = in.normal({rows, C});
    const Tensor tokens = in.ids({B, T}, 0, vocab);  // about a quarter in [80, 160)
    const Tensor tokens_d = tokens.to(kGpu);
    Tensor ref = ref_out({B, T, C}), dev = poisoned({B, T, C}, dt());
    ops::vocab_range_embedding_forward(ref, tokens, w.ref, begin, vocab);
    ops::vocab_range_embedding_forward(dev, tokens_d, w.dev, begin, vocab);
    expect_close("vocab_range_embedding_forward out", dev, ref, tol());
    const Pair dout = in.normal({B, T, C});
    Pair dw = in.normal({rows, C});
    ops::vocab_range_embedding_backward(dw.ref, dout.ref, tokens, begin, vocab);
    ops::vocab_range_embedding_backward(dw.dev, dout.dev, tokens_d, begin, vocab);
    expect_close("vocab_range_embedding_backward dweight", dw.dev, dw.ref, tol());
  }
}

TEST_F(CudaOpRefusesCpu, VocabRangeEmbedding) {
  Inputs in(DType::f32);
  const Pair w = in.normal({8, 8}), dout = in.normal({2, 3, 8});
  const Tensor tokens = in.ids({2, 3}, 0, 16);
  Tensor out = gpu_f32({2, 3, 8}), dw = gpu_f32({8, 8});
  expect_refuses_cpu("vocab_range_embedding_forward",
                     [&] { ops::vocab_range_embedding_forward(out, tokens, w.dev, 8, 16); });
  expect_refuses_cpu("vocab_range_embedding_backward",
                     [&] { ops::vocab_range_embedding_backward(dw, dout.dev, tokens, 8, 16); });
}

// ---- Norms ----

// 1000: not a multiple of a warp's vector width; 16384: longer than the rows the kernels cache in shared
// memory.
const std::vector<int64_t> kNormWidths = {96, 768, 1000, 16384};

TEST_P(CudaOp, LayernormForward) {
  Inputs in(dt());
  for (const int64_t C : kNormWidths) {
    SCOPED_TRACE(::testing::Message() << "C=" << C);
    const int64_t N = 67;
    const Pair x = in.normal({N, C}, 2.0, 0.5), w = in.normal({C}, 0.1, 1.0), b = in.normal({C}, 0.1);
    Tensor out = ref_out({N, C}), mean = ref_out({N}), rstd = ref_out({N});
    Tensor out_d = poisoned({N, C}, dt()), mean_d = poisoned({N}, DType::f32),
           rstd_d = poisoned({N}, DType::f32);
    ops::layernorm_forward(out, mean, rstd, x.ref, w.ref, b.ref, 1e-5);
    ops::layernorm_forward(out_d, mean_d, rstd_d, x.dev, w.dev, b.dev, 1e-5);
    expect_close("layernorm_forward out", out_d, out, tol());
    expect_close("layernorm_forward mean", mean_d, mean, tol());
    expect_close("layernorm_forward rstd", rstd_d, rstd, tol());
  }
}

TEST_P(CudaOp, LayernormBackward) {
  Inputs in(dt());
  for (const int64_t C : kNormWidths) {
    SCOPED_TRACE(::testing::Message() << "C=" << C);
    const int64_t N = 130;
    const Pair x = in.normal({N, C}, 2.0, 0.5), w = in.normal({C}, 0.1, 1.0), b = in.normal({C}, 0.1);
    const Pair dout = in.normal({N, C});
    // The saved statistics, from the reference forward; the GPU gets the same f32 values.
    Tensor out = ref_out({N, C}), mean = ref_out({N}), rstd = ref_out({N});
    ops::layernorm_forward(out, mean, rstd, x.ref, w.ref, b.ref, 1e-5);
    const Tensor mean_d = mean.to(kGpu), rstd_d = rstd.to(kGpu);
    Tensor din = ref_out({N, C}), din_d = poisoned({N, C}, dt());
    Pair dw = in.normal({C}), db = in.normal({C});
    ops::layernorm_backward(din, dw.ref, db.ref, dout.ref, x.ref, w.ref, mean, rstd);
    ops::layernorm_backward(din_d, dw.dev, db.dev, dout.dev, x.dev, w.dev, mean_d, rstd_d);
    expect_close("layernorm_backward din", din_d, din, tol());
    expect_close("layernorm_backward dweight", dw.dev, dw.ref, tol());
    expect_close("layernorm_backward dbias", db.dev, db.ref, tol());
  }
}

TEST_P(CudaOp, RmsnormForward) {
  Inputs in(dt());
  for (const int64_t C : kNormWidths) {
    SCOPED_TRACE(::testing::Message() << "C=" << C);
    const int64_t N = 67;
    const Pair x = in.normal({N, C}, 2.0, 0.5), w = in.normal({C}, 0.1, 1.0);
    Tensor out = ref_out({N, C}), rstd = ref_out({N});
    Tensor out_d = poisoned({N, C}, dt()), rstd_d = poisoned({N}, DType::f32);
    ops::rmsnorm_forward(out, rstd, x.ref, w.ref, 1e-5);
    ops::rmsnorm_forward(out_d, rstd_d, x.dev, w.dev, 1e-5);
    expect_close("rmsnorm_forward out", out_d, out, tol());
    expect_close("rmsnorm_forward rstd", rstd_d, rstd, tol());
  }
}

TEST_P(CudaOp, RmsnormBackward) {
  Inputs in(dt());
  for (const int64_t C : kNormWidths) {
    SCOPED_TRACE(::testing::Message() << "C=" << C);
    const int64_t N = 130;
    const Pair x = in.normal({N, C}, 2.0, 0.5), w = in.normal({C}, 0.1, 1.0), dout = in.normal({N, C});
    Tensor out = ref_out({N, C}), rstd = ref_out({N});
    ops::rmsnorm_forward(out, rstd, x.ref, w.ref, 1e-5);
    Tensor din = ref_out({N, C}), din_d = poisoned({N, C}, dt());
    Pair dw = in.normal({C});
    ops::rmsnorm_backward(din, dw.ref, dout.ref, x.ref, w.ref, rstd);
    ops::rmsnorm_backward(din_d, dw.dev, dout.dev, x.dev, w.dev, rstd.to(kGpu));
    expect_close("rmsnorm_backward din", din_d, din, tol());
    expect_close("rmsnorm_backward dweight", dw.dev, dw.ref, tol());
  }
}

// residual = x + y, then the norm of residual. Also with residual aliasing x and y (the pre-norm block writes
// the residual stream in place).
TEST_P(CudaOp, ResidualLayernormForward) {
  Inputs in(dt());
  for (const int64_t C : {int64_t{768}, int64_t{16384}}) {
    const int64_t N = 67;
    const Pair x = in.normal({N, C}, 2.0, 0.5), y = in.normal({N, C}), w = in.normal({C}, 0.1, 1.0);
    const Pair b = in.normal({C}, 0.1);
    for (const char* alias : {"none", "x", "y"}) {
      SCOPED_TRACE(::testing::Message() << "C=" << C << ", residual aliases " << alias);
      Tensor res = ref_out({N, C}), out = ref_out({N, C}), mean = ref_out({N}), rstd = ref_out({N});
      ops::residual_layernorm_forward(res, out, mean, rstd, x.ref, y.ref, w.ref, b.ref, 1e-5);
      Tensor xd = x.dev.clone(), yd = y.dev.clone();
      Tensor res_d = alias == std::string("x") ? xd : alias == std::string("y") ? yd : poisoned({N, C}, dt());
      Tensor out_d = poisoned({N, C}, dt()), mean_d = poisoned({N}, DType::f32),
             rstd_d = poisoned({N}, DType::f32);
      ops::residual_layernorm_forward(res_d, out_d, mean_d, rstd_d, xd, yd, w.dev, b.dev, 1e-5);
      expect_close("residual_layernorm_forward residual", res_d, res, tol());
      expect_close("residual_layernorm_forward out", out_d, out, tol());
      expect_close("residual_layernorm_forward mean", mean_d, mean, tol());
      expect_close("residual_layernorm_forward rstd", rstd_d, rstd, tol());
    }
  }
}

TEST_P(CudaOp, ResidualRmsnormForward) {
  Inputs in(dt());
  for (const int64_t C : {int64_t{1000}, int64_t{16384}}) {
    const int64_t N = 67;
    const Pair x = in.normal({N, C}, 2.0, 0.5), y = in.normal({N, C}), w = in.normal({C}, 0.1, 1.0);
    for (const char* alias : {"none", "x", "y"}) {
      SCOPED_TRACE(::testing::Message() << "C=" << C << ", residual aliases " << alias);
      Tensor res = ref_out({N, C}), out = ref_out({N, C}), rstd = ref_out({N});
      ops::residual_rmsnorm_forward(res, out, rstd, x.ref, y.ref, w.ref, 1e-5);
      Tensor xd = x.dev.clone(), yd = y.dev.clone();
      Tensor res_d = alias == std::string("x") ? xd : alias == std::string("y") ? yd : poisoned({N, C}, dt());
      Tensor out_d = poisoned({N, C}, dt()), rstd_d = poisoned({N}, DType::f32);
      ops::residual_rmsnorm_forward(res_d, out_d, rstd_d, xd, yd, w.dev, 1e-5);
      expect_close("residual_rmsnorm_forward residual", res_d, res, tol());
      expect_close("residual_rmsnorm_forward out", out_d, out, tol());
      expect_close("residual_rmsnorm_forward rstd", rstd_d, rstd, tol());
    }
  }
}

TEST_F(CudaOpRefusesCpu, Norms) {
  Inputs in(DType::f32);
  const Pair x = in.normal({4, 8}), y = in.normal({4, 8}), w = in.normal({8}), b = in.normal({8});
  Tensor out = gpu_f32({4, 8}), res = gpu_f32({4, 8}), mean = gpu_f32({4}), rstd = gpu_f32({4});
  Tensor dw = gpu_f32({8}), db = gpu_f32({8});
  expect_refuses_cpu("layernorm_forward",
                     [&] { ops::layernorm_forward(out, mean, rstd, x.dev, w.ref, b.dev, 1e-5); });
  expect_refuses_cpu("layernorm_backward", [&] {
    ops::layernorm_backward(out, dw, db, y.dev, x.dev, w.dev, mean, rstd.to(Device::cpu()));
  });
  expect_refuses_cpu("rmsnorm_forward", [&] { ops::rmsnorm_forward(out, rstd, x.ref, w.dev, 1e-5); });
  expect_refuses_cpu("rmsnorm_backward", [&] { ops::rmsnorm_backward(out, dw, y.ref, x.dev, w.dev, rstd); });
  expect_refuses_cpu("residual_layernorm_forward", [&] {
    ops::residual_layernorm_forward(res, out, mean, rstd, x.dev, y.ref, w.dev, b.dev, 1e-5);
  });
  expect_refuses_cpu("residual_rmsnorm_forward",
                     [&] { ops::residual_rmsnorm_forward(res, out, rstd, x.dev, y.dev, w.ref, 1e-5); });
}

// ---- Activations ----

TEST_P(CudaOp, GeluForwardBackward) {
  Inputs in(dt());
  const int64_t N = 100, C = 333;
  const Pair x = in.normal({N, C}, 3.0), dout = in.normal({N, C});
  Tensor out = ref_out({N, C}), out_d = poisoned({N, C}, dt());
  ops::gelu_forward(out, x.ref);
  ops::gelu_forward(out_d, x.dev);
  expect_close("gelu_forward out", out_d, out, tol());
  Tensor din = ref_out({N, C}), din_d = poisoned({N, C}, dt());
  ops::gelu_backward(din, dout.ref, x.ref);
  ops::gelu_backward(din_d, dout.dev, x.dev);
  expect_close("gelu_backward din", din_d, din, tol());
}

// F = 344: the vectorised kernels; F = 343: the scalar ones.
TEST_P(CudaOp, SwigluForwardBackward) {
  Inputs in(dt());
  for (const int64_t F : {int64_t{344}, int64_t{343}}) {
    SCOPED_TRACE(::testing::Message() << "F=" << F);
    const int64_t N = 100;
    const Pair x = in.normal({N, 2 * F}, 2.0), dout = in.normal({N, F});
    Tensor out = ref_out({N, F}), out_d = poisoned({N, F}, dt());
    ops::swiglu_forward(out, x.ref);
    ops::swiglu_forward(out_d, x.dev);
    expect_close("swiglu_forward out", out_d, out, tol());
    Tensor din = ref_out({N, 2 * F}), din_d = poisoned({N, 2 * F}, dt());
    ops::swiglu_backward(din, dout.ref, x.ref);
    ops::swiglu_backward(din_d, dout.dev, x.dev);
    expect_close("swiglu_backward din", din_d, din, tol());
  }
}

TEST_F(CudaOpRefusesCpu, Activations) {
  Inputs in(DType::f32);
  const Pair x = in.normal({4, 8}), d = in.normal({4, 8}), h = in.normal({4, 4});
  Tensor out = gpu_f32({4, 8}), half = gpu_f32({4, 4});
  expect_refuses_cpu("gelu_forward", [&] { ops::gelu_forward(out, x.ref); });
  expect_refuses_cpu("gelu_backward", [&] { ops::gelu_backward(out, d.ref, x.dev); });
  expect_refuses_cpu("swiglu_forward", [&] { ops::swiglu_forward(half, x.ref); });
  expect_refuses_cpu("swiglu_backward", [&] { ops::swiglu_backward(out, h.ref, x.dev); });
}

// ---- RoPE ----

TEST_P(CudaOp, RopeForwardBackwardWithOffsetAndInPlace) {
  Inputs in(dt());
  struct Case {
    int64_t b, t, h, d, pos0;
    double theta;
  };
  for (const Case c : {Case{2, 64, 4, 64, 0, 10000.0}, Case{1, 33, 2, 32, 200, 500000.0},
                       Case{2, 1, 4, 16, 0, 10000.0}, Case{2, 16, 3, 128, 1000, 10000.0}}) {
    SCOPED_TRACE(::testing::Message() << "B=" << c.b << " T=" << c.t << " H=" << c.h << " D=" << c.d
                                      << " pos0=" << c.pos0 << " theta=" << c.theta);
    // The reference computes the angle (pos0 + t) * theta^(-2i/D) in double. A GPU angle in f32 (as PyTorch's
    // and Hugging Face's RoPE compute it) is off by up to half an ulp of the angle, ~ pos * 2^-24 rad, which
    // moves each output by that much relative to |x|: the f32 bar grows with the largest position. bf16/f16
    // bars are far above it.
    const double max_pos = static_cast<double>(c.pos0 + c.t - 1);
    const double tol_here = std::max(tol(), dt() == DType::f32 ? 4.0 * max_pos * 0x1p-24 : 0.0);
    const Shape s{c.b, c.t, c.h, c.d};
    const Pair x = in.normal(s), dout = in.normal(s);
    Tensor out = ref_out(s), out_d = poisoned(s, dt());
    ops::rope_forward(out, x.ref, c.theta, c.pos0);
    ops::rope_forward(out_d, x.dev, c.theta, c.pos0);
    expect_close("rope_forward out", out_d, out, tol_here);
    Tensor inplace = x.dev.clone();  // out may alias in
    ops::rope_forward(inplace, inplace, c.theta, c.pos0);
    expect_close("rope_forward in place", inplace, out, tol_here);
    Tensor din = ref_out(s), din_d = poisoned(s, dt());
    ops::rope_backward(din, dout.ref, c.theta, c.pos0);
    ops::rope_backward(din_d, dout.dev, c.theta, c.pos0);
    expect_close("rope_backward din", din_d, din, tol_here);
    Tensor din_inplace = dout.dev.clone();  // din may alias dout
    ops::rope_backward(din_inplace, din_inplace, c.theta, c.pos0);
    expect_close("rope_backward in place", din_inplace, din, tol_here);
  }
}

TEST_F(CudaOpRefusesCpu, Rope) {
  Inputs in(DType::f32);
  const Pair x = in.normal({1, 4, 2, 8});
  Tensor out = gpu_f32({1, 4, 2, 8});
  expect_refuses_cpu("rope_forward", [&] { ops::rope_forward(out, x.ref, 10000.0, 0); });
  expect_refuses_cpu("rope_backward", [&] { ops::rope_backward(out, x.ref, 10000.0, 0); });
}

// ---- Attention ----

struct AttnCase {
  int64_t b, t, h, hkv, d;
};

std::string attn_name(const AttnCase& c) {
  return "B=" + std::to_string(c.b) + " T=" + std::to_string(c.t) + " H=" + std::to_string(c.h) +
         " Hkv=" + std::to_string(c.hkv) + " D=" + std::to_string(c.d);
}

// Multi-head, GQA with 2 and 1 (multi-query) kv heads, T of 1, of a non-multiple of any tile (17, 100), up to
// 256, and long T=1024; head dims 16, 32, 64, 128 (the largest tiles and opt-in shared memory), 96 (padded
// inside the 128 kernels) and 18 (not a multiple of 4 or 8: the scalar tile loads).
const std::vector<AttnCase> kAttnCases = {
    {2, 64, 4, 4, 64},   {2, 256, 4, 2, 32},   {1, 256, 4, 1, 16}, {2, 17, 4, 2, 64},
    {3, 1, 4, 4, 32},    {1, 100, 4, 1, 64},   {2, 128, 4, 2, 16}, {1, 1024, 4, 2, 64},
    {1, 200, 4, 2, 128}, {1, 1024, 2, 1, 128}, {1, 130, 4, 2, 96}, {2, 70, 4, 2, 18},
};

// The reference and GPU inputs of one attention case; `out`/`lse` from the reference forward, the GPU's
// out rounded to the dtype (what a model would have saved).
struct AttnInputs {
  Pair q, k, v;
  Tensor out, lse;  // reference forward, f32 on the CPU
};

AttnInputs attention_inputs(Inputs& in, const AttnCase& c) {
  AttnInputs a;
  // Scale 1.5: scores q.k / sqrt(D) of spread ~2, so some rows' softmax is peaked and some flat.
  a.q = in.normal({c.b, c.t, c.h, c.d}, 1.5);
  a.k = in.normal({c.b, c.t, c.hkv, c.d}, 1.5);
  a.v = in.normal({c.b, c.t, c.hkv, c.d});
  a.out = ref_out({c.b, c.t, c.h, c.d});
  a.lse = ref_out({c.b, c.h, c.t});
  ops::attention_forward(a.out, a.lse, a.q.ref, a.k.ref, a.v.ref);
  return a;
}

TEST_P(CudaOp, AttentionForward) {
  Inputs in(dt());
  for (const AttnCase& c : kAttnCases) {
    SCOPED_TRACE(attn_name(c));
    const AttnInputs a = attention_inputs(in, c);
    Tensor out_d = poisoned({c.b, c.t, c.h, c.d}, dt()), lse_d = poisoned({c.b, c.h, c.t}, DType::f32);
    ops::attention_forward(out_d, lse_d, a.q.dev, a.k.dev, a.v.dev);
    expect_close("attention_forward out", out_d, a.out, tol());
    expect_close("attention_forward lse", lse_d, a.lse, tol());
  }
}

TEST_P(CudaOp, AttentionBackward) {
  Inputs in(dt());
  for (const AttnCase& c : kAttnCases) {
    SCOPED_TRACE(attn_name(c));
    const AttnInputs a = attention_inputs(in, c);
    const Pair out = in.round(a.out);  // both sides read the same dtype-rounded forward output
    const Pair dout = in.normal({c.b, c.t, c.h, c.d});
    Tensor dq = ref_out({c.b, c.t, c.h, c.d}), dk = ref_out({c.b, c.t, c.hkv, c.d});
    Tensor dv = ref_out({c.b, c.t, c.hkv, c.d});
    ops::attention_backward(dq, dk, dv, dout.ref, a.q.ref, a.k.ref, a.v.ref, out.ref, a.lse);
    Tensor dq_d = poisoned(dq.shape(), dt()), dk_d = poisoned(dk.shape(), dt()),
           dv_d = poisoned(dv.shape(), dt());
    ops::attention_backward(dq_d, dk_d, dv_d, dout.dev, a.q.dev, a.k.dev, a.v.dev, out.dev, a.lse.to(kGpu));
    // At T = 1 each query sees only its own key: the softmax is 1 and dq = dk = 0 exactly, so their reference
    // is rounding noise. They are measured against the scale of dv (P^T dout, the block's gradient scale).
    const double dv_scale = max_rel_error(dv, dv, 0).ref_max;
    expect_close("attention_backward dq", dq_d, dq, tol(), dv_scale);
    expect_close("attention_backward dk", dk_d, dk, tol(), dv_scale);
    expect_close("attention_backward dv", dv_d, dv, tol());
  }
}

TEST_F(CudaOpRefusesCpu, Attention) {
  Inputs in(DType::f32);
  const Pair q = in.normal({1, 4, 2, 8}), k = in.normal({1, 4, 1, 8}), v = in.normal({1, 4, 1, 8});
  Tensor out = gpu_f32({1, 4, 2, 8}), lse = gpu_f32({1, 2, 4});
  Tensor dq = gpu_f32({1, 4, 2, 8}), dk = gpu_f32({1, 4, 1, 8}), dv = gpu_f32({1, 4, 1, 8});
  expect_refuses_cpu("attention_forward", [&] { ops::attention_forward(out, lse, q.dev, k.ref, v.dev); });
  expect_refuses_cpu("attention_backward",
                     [&] { ops::attention_backward(dq, dk, dv, q.dev, q.dev, k.dev, v.ref, out, lse); });
}

// ---- Softmax ----

TEST_P(CudaOp, SoftmaxForwardBackward) {
  Inputs in(dt());
  for (const int64_t C : {int64_t{7}, int64_t{256}, int64_t{1000}, int64_t{5000}}) {
    SCOPED_TRACE(::testing::Message() << "C=" << C);
    const int64_t N = 40;
    const Pair x = in.normal({N, C}, 3.0), dout = in.normal({N, C});
    Tensor out = ref_out({N, C}), out_d = poisoned({N, C}, dt());
    ops::softmax_forward(out, x.ref);
    ops::softmax_forward(out_d, x.dev);
    expect_close("softmax_forward out", out_d, out, tol());
    const Pair y = in.round(out);
    Tensor din = ref_out({N, C}), din_d = poisoned({N, C}, dt());
    ops::softmax_backward(din, dout.ref, y.ref);
    ops::softmax_backward(din_d, dout.dev, y.dev);
    expect_close("softmax_backward din", din_d, din, tol());
  }
}

TEST_F(CudaOpRefusesCpu, Softmax) {
  Inputs in(DType::f32);
  const Pair x = in.normal({4, 8});
  Tensor out = gpu_f32({4, 8});
  expect_refuses_cpu("softmax_forward", [&] { ops::softmax_forward(out, x.ref); });
  expect_refuses_cpu("softmax_backward", [&] { ops::softmax_backward(out, x.ref, x.dev); });
}

// ---- Cross-entropy ----

struct CeCase {
  int64_t n, vp, vocab;
};

// Logits over a padded vocabulary whose padding holds large values (a kernel that reads them gets a wrong
// lse), and targets with every 5th row ignored (-1).
TEST_P(CudaOp, CrossEntropyPaddedVocabIgnoredTargets) {
  Inputs in(dt());
  for (const CeCase c : {CeCase{37, 320, 257}, CeCase{64, 50304, 50257}, CeCase{8, 1024, 1024}}) {
    SCOPED_TRACE(::testing::Message() << "N=" << c.n << " Vp=" << c.vp << " vocab=" << c.vocab);
    Tensor logits_f32 = in.normal_f32({c.n, c.vp}, 2.0);
    for (int64_t r = 0; r < c.n; ++r)
      for (int64_t j = c.vocab; j < c.vp; ++j) logits_f32.data<float>()[r * c.vp + j] = 30.0f;
    const Pair logits = in.round(logits_f32);
    const Tensor targets = in.ids({c.n}, 0, c.vocab, 5);
    const Tensor targets_d = targets.to(kGpu);

    Tensor losses = ref_out({c.n}), lse = ref_out({c.n});
    Tensor losses_d = poisoned({c.n}, DType::f32), lse_d = poisoned({c.n}, DType::f32);
    ops::cross_entropy_forward(losses, lse, logits.ref, targets, c.vocab);
    ops::cross_entropy_forward(losses_d, lse_d, logits.dev, targets_d, c.vocab);
    expect_close("cross_entropy_forward losses", losses_d, losses, tol());
    expect_close("cross_entropy_forward lse", lse_d, lse, tol());

    // Backward from the reference lse; a dloss_scale of 1/N as the mean loss uses.
    const double scale = 1.0 / static_cast<double>(c.n);
    Tensor dlogits = ref_out({c.n, c.vp}), dlogits_d = poisoned({c.n, c.vp}, dt());
    const Tensor lse_ref_d = lse.to(kGpu);
    ops::cross_entropy_backward(dlogits, logits.ref, lse, targets, c.vocab, scale);
    ops::cross_entropy_backward(dlogits_d, logits.dev, lse_ref_d, targets_d, c.vocab, scale);
    expect_close("cross_entropy_backward dlogits", dlogits_d, dlogits, tol());
    Tensor inplace = logits.dev.clone();  // dlogits may alias logits
    ops::cross_entropy_backward(inplace, inplace, lse_ref_d, targets_d, c.vocab, scale);
    expect_close("cross_entropy_backward in place", inplace, dlogits, tol());
  }
}

TEST_F(CudaOpRefusesCpu, CrossEntropy) {
  Inputs in(DType::f32);
  const Pair logits = in.normal({4, 16});
  const Tensor targets = in.ids({4}, 0, 10);
  Tensor losses = gpu_f32({4}), lse = gpu_f32({4}), dlogits = gpu_f32({4, 16});
  expect_refuses_cpu("cross_entropy_forward",
                     [&] { ops::cross_entropy_forward(losses, lse, logits.dev, targets, 10); });
  expect_refuses_cpu("cross_entropy_backward", [&] {
    ops::cross_entropy_backward(dlogits, logits.ref, lse, targets.to(kGpu), 10, 1.0);
  });
}

// The vocabulary-parallel pieces on each rank's columns of logits split over 4 ranks (the last one mostly
// padding, which holds large values a kernel must not read), with the collectives done on the host from the
// GPU's own statistics, so each piece is compared on identical inputs.
TEST_P(CudaOp, CrossEntropyPartialsOverRanks) {
  Inputs in(dt());
  const int64_t n = 37, ranks = 4, local = 96, vocab = 3 * local + 5;
  Tensor logits_f32 = in.normal_f32({n, ranks * local}, 2.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = vocab; j < ranks * local; ++j) logits_f32.data<float>()[r * ranks * local + j] = 30.0f;
  const Tensor targets = in.ids({n}, 0, vocab, 5);
  const Tensor targets_d = targets.to(kGpu);
  std::vector<Pair> blocks;
  for (int64_t k = 0; k < ranks; ++k) {
    Tensor block = Tensor::empty({n, local}, DType::f32);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < local; ++j)
        block.data<float>()[r * local + j] = logits_f32.data<float>()[r * ranks * local + k * local + j];
    blocks.push_back(in.round(block));
  }
  Tensor row_max = Tensor::full({n}, -INFINITY, DType::f32);
  for (int64_t k = 0; k < ranks; ++k) {
    Tensor m = ref_out({n}), m_d = poisoned({n}, DType::f32);
    ops::cross_entropy_partial_max(m, blocks[k].ref, k * local, vocab);
    ops::cross_entropy_partial_max(m_d, blocks[k].dev, k * local, vocab);
    expect_close("cross_entropy_partial_max", m_d, m, tol());
    for (int64_t r = 0; r < n; ++r)
      row_max.data<float>()[r] = std::max(row_max.data<float>()[r], m.data<float>()[r]);
  }
  Tensor sums = Tensor::zeros({2, n}, DType::f32);
  const Tensor row_max_d = row_max.to(kGpu);
  for (int64_t k = 0; k < ranks; ++k) {
    Tensor s = ref_out({2, n}), s_d = poisoned({2, n}, DType::f32);
    ops::cross_entropy_partial_sums(s, blocks[k].ref, row_max, targets, k * local, vocab);
    ops::cross_entropy_partial_sums(s_d, blocks[k].dev, row_max_d, targets_d, k * local, vocab);
    expect_close("cross_entropy_partial_sums", s_d, s, tol());
    ops::add_inplace(sums, s);
  }
  Tensor losses = ref_out({n}), lse = ref_out({n});
  Tensor losses_d = poisoned({n}, DType::f32), lse_d = poisoned({n}, DType::f32);
  ops::cross_entropy_partial_loss(losses, lse, row_max, sums, targets);
  ops::cross_entropy_partial_loss(losses_d, lse_d, row_max_d, sums.to(kGpu), targets_d);
  expect_close("cross_entropy_partial_loss losses", losses_d, losses, 1e-5);
  expect_close("cross_entropy_partial_loss lse", lse_d, lse, 1e-5);
  const Tensor lse_ref_d = lse.to(kGpu);
  for (int64_t k = 0; k < ranks; ++k) {
    Tensor d = ref_out({n, local}), d_d = poisoned({n, local}, dt());
    ops::cross_entropy_partial_backward(d, blocks[k].ref, lse, targets, k * local, vocab, 0.25);
    ops::cross_entropy_partial_backward(d_d, blocks[k].dev, lse_ref_d, targets_d, k * local, vocab, 0.25);
    expect_close("cross_entropy_partial_backward dlogits", d_d, d, tol());
  }
}

TEST_F(CudaOpRefusesCpu, CrossEntropyPartials) {
  Inputs in(DType::f32);
  const Pair logits = in.normal({4, 16});
  const Tensor targets = in.ids({4}, 0, 30);
  Tensor m = gpu_f32({4}), sums = gpu_f32({2, 4}), losses = gpu_f32({4}), lse = gpu_f32({4});
  Tensor dlogits = gpu_f32({4, 16});
  expect_refuses_cpu("cross_entropy_partial_max",
                     [&] { ops::cross_entropy_partial_max(m, logits.ref, 16, 30); });
  expect_refuses_cpu("cross_entropy_partial_sums",
                     [&] { ops::cross_entropy_partial_sums(sums, logits.dev, m, targets, 16, 30); });
  expect_refuses_cpu("cross_entropy_partial_loss",
                     [&] { ops::cross_entropy_partial_loss(losses, lse, m, sums, targets); });
  expect_refuses_cpu("cross_entropy_partial_backward", [&] {
    ops::cross_entropy_partial_backward(dlogits, logits.dev, lse, targets, 16, 30, 1.0);
  });
}

// ---- Bias add ----

TEST_P(CudaOp, AddBias) {
  Inputs in(dt());
  const int64_t N = 257, C = 160;
  Pair out = in.normal({N, C});
  const Pair bias = in.normal({C});
  ops::add_bias(out.ref, bias.ref);
  ops::add_bias(out.dev, bias.dev);
  expect_close("add_bias out", out.dev, out.ref, tol());
}

TEST_F(CudaOpRefusesCpu, AddBias) {
  Inputs in(DType::f32);
  const Pair bias = in.normal({8});
  Tensor out = gpu_f32({4, 8});
  expect_refuses_cpu("add_bias", [&] { ops::add_bias(out, bias.ref); });
}

// ---- Elementwise ----

const std::vector<int64_t> kFlatSizes = {1, 1000, (1 << 20) + 3};  // tail handling and a grid-stride size

TEST_P(CudaOp, AddAndAddInplaceAndScaleInplace) {
  Inputs in(dt());
  for (const int64_t n : kFlatSizes) {
    SCOPED_TRACE(::testing::Message() << "n=" << n);
    const Pair a = in.normal({n}), b = in.normal({n});
    Tensor out = ref_out({n}), out_d = poisoned({n}, dt());
    ops::add(out, a.ref, b.ref);
    ops::add(out_d, a.dev, b.dev);
    expect_close("add out", out_d, out, tol());
    Tensor alias_a = a.dev.clone(), alias_b = b.dev.clone();  // out may alias a or b
    ops::add(alias_a, alias_a, b.dev);
    expect_close("add out aliasing a", alias_a, out, tol());
    ops::add(alias_b, a.dev, alias_b);
    expect_close("add out aliasing b", alias_b, out, tol());

    Pair acc = in.normal({n});
    ops::add_inplace(acc.ref, b.ref);
    ops::add_inplace(acc.dev, b.dev);
    expect_close("add_inplace a", acc.dev, acc.ref, tol());

    Pair s = in.normal({n});
    ops::scale_inplace(s.ref, -0.37);
    ops::scale_inplace(s.dev, -0.37);
    expect_close("scale_inplace a", s.dev, s.ref, tol());
  }
}

TEST_P(CudaOp, SumSquares) {
  Inputs in(dt());
  for (const int64_t n : kFlatSizes) {
    SCOPED_TRACE(::testing::Message() << "n=" << n);
    const Pair a = in.normal({n}, 3.0);
    const double ref = ops::sum_squares(a.ref), got = ops::sum_squares(a.dev);
    // The inputs are identical, so only the summation order and width differ: the dtype bar holds easily.
    EXPECT_LE(std::abs(got - ref), tol() * ref) << "gpu " << got << " vs cpu " << ref;
  }
}

TEST_F(CudaOpRefusesCpu, Elementwise) {
  Inputs in(DType::f32);
  const Pair a = in.normal({16}), b = in.normal({16});
  Tensor out = gpu_f32({16}), acc = gpu_f32({16});
  expect_refuses_cpu("add", [&] { ops::add(out, a.dev, b.ref); });
  expect_refuses_cpu("add_inplace", [&] { ops::add_inplace(acc, b.ref); });
  // scale_inplace and sum_squares take one tensor: there is nothing to mix.
}

// ---- AdamW ----

// f32 only: AdamW updates the fp32 master weights and moments (ops.h; the CPU op refuses bf16/f16 too).
TEST_F(CudaOpF32, AdamWStepMatchesCpu) {
  Inputs in(DType::f32);
  const int64_t n = 100003;
  Pair p = in.normal({n}), m = in.normal({n}, 0.01);
  const Pair g = in.normal({n}, 0.1);
  // v >= 0, as a sum of squares is: (0.01 N)^2 plus a floor, so 1/sqrt(v) is bounded.
  Tensor v_f32 = in.normal_f32({n}, 0.01);
  for (int64_t i = 0; i < n; ++i)
    v_f32.data<float>()[i] = v_f32.data<float>()[i] * v_f32.data<float>()[i] + 1e-8f;
  Pair v = in.round(v_f32);
  for (const int64_t step : {int64_t{1}, int64_t{7}, int64_t{1000}}) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    const ops::AdamWParams hp{1e-3, 0.9, 0.95, 1e-8, 0.1, step};
    ops::adamw_step(p.ref, g.ref, m.ref, v.ref, hp);
    ops::adamw_step(p.dev, g.dev, m.dev, v.dev, hp);
    expect_close("adamw_step param", p.dev, p.ref, bar(DType::f32));
    expect_close("adamw_step m", m.dev, m.ref, bar(DType::f32));
    expect_close("adamw_step v", v.dev, v.ref, bar(DType::f32));
  }
}

TEST_F(CudaOpRefusesCpu, AdamW) {
  Inputs in(DType::f32);
  Pair p = in.normal({16}), m = in.normal({16}), v = in.normal({16});
  const Pair g = in.normal({16});
  expect_refuses_cpu("adamw_step", [&] {
    ops::adamw_step(p.dev, g.ref, m.dev, v.dev, {1e-3, 0.9, 0.95, 1e-8, 0.1, 1});
  });
}

// ---- Layout ----

// Byte copies: exact in every dtype.
TEST_P(CudaOp, SplitAndConcatLastDimAreExact) {
  Inputs in(dt());
  const int64_t B = 3, T = 17;
  const std::vector<int64_t> widths = {64, 32, 32, 7};
  int64_t total = 0;
  for (int64_t w : widths) total += w;
  const Pair fused = in.normal({B, T, total});
  std::vector<Tensor> parts_ref, parts_dev;
  for (int64_t w : widths) {
    parts_ref.push_back(ref_out({B, T, w}));
    parts_dev.push_back(poisoned({B, T, w}, dt()));
  }
  std::vector<Tensor*> outs_ref, outs_dev;
  for (size_t i = 0; i < widths.size(); ++i)
    outs_ref.push_back(&parts_ref[i]), outs_dev.push_back(&parts_dev[i]);
  ops::split_last_dim(fused.ref, outs_ref);
  ops::split_last_dim(fused.dev, outs_dev);
  for (size_t i = 0; i < widths.size(); ++i)
    expect_close("split_last_dim part " + std::to_string(i), parts_dev[i], parts_ref[i], 0.0);

  Tensor back_d = poisoned({B, T, total}, dt());
  std::vector<const Tensor*> ins_dev;
  for (const Tensor& t : parts_dev) ins_dev.push_back(&t);
  ops::concat_last_dim(back_d, ins_dev);
  expect_close("concat_last_dim out", back_d, fused.ref, 0.0);
}

TEST_F(CudaOpRefusesCpu, Layout) {
  Inputs in(DType::f32);
  const Pair fused = in.normal({4, 12});
  Tensor a = gpu_f32({4, 8}), b = Tensor::empty({4, 4}, DType::f32);  // b on the CPU
  Tensor fused_d = gpu_f32({4, 12});
  expect_refuses_cpu("split_last_dim", [&] { ops::split_last_dim(fused.dev, {&a, &b}); });
  expect_refuses_cpu("concat_last_dim", [&] { ops::concat_last_dim(fused_d, {&a, &b}); });
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaOp, ::testing::Values(DType::f32, DType::bf16, DType::f16),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(dtype_name(info.param));
                         });

}  // namespace
}  // namespace trident
