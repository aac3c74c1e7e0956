// bf16 and f16 storage on the CPU ops: compute stays f32, so an op run on low-precision tensors must give
// exactly what it gives on f32 tensors holding the same values, rounded once to bf16/f16. Inputs are drawn at
// random and rounded to the storage dtype first, so both runs read identical values; outputs are poisoned
// (NaN) before each run, so an element the op does not write cannot pass. Outputs the op accumulates into
// (dweight, matmul's beta) start from random values and are exact too: the whole sum happens in f32 within
// one call. Only accumulation over several calls rounds more than once; that case is bounded, not exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "core/comm/local_communicator.h"
#include "core/ops/layout.h"
#include "core/ops/ops.h"
#include "core/tensor/param_set.h"
#include "tensor_parallel/row_parallel_linear.h"
#include "tensor_parallel/vocab_parallel_cross_entropy.h"
#include "tensor_parallel/vocab_parallel_embedding.h"
#include "tests/unit/forwarding_comm.h"
#include "tests/unit/ops_test_util.h"
#include "tests/unit/test_util.h"

namespace trident {
namespace {

using test::int_tensor;
constexpr DType f32 = DType::f32;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_low_precision(DType t) {
  return t == DType::bf16 || t == DType::f16;
}

// Every element of `a` has the bits of the same element of `expected` (same dtype).
void expect_same_bits(const Tensor& a, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(a.dtype(), expected.dtype()) << what;
  ASSERT_EQ(a.numel(), expected.numel()) << what;
  const size_t es = dtype_size(a.dtype());
  const char* x = static_cast<const char*>(a.raw());
  const char* y = static_cast<const char*>(expected.raw());
  int reported = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (std::memcmp(x + i * es, y + i * es, es) != 0 && reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << a.item(i) << ", expected " << expected.item(i);
  }
}

void expect_finite(const Tensor& a, const std::string& what) {
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (!std::isfinite(a.item(i))) {
      ADD_FAILURE() << what << ": element " << i << " is " << a.item(i) << " (left unwritten?)";
      return;
    }
  }
}

// An op under test, reading and writing its arguments in place (the same tensor twice for in-place forms).
using Op = std::function<void(std::vector<Tensor>&)>;

// Runs `op` on `args` as given (bf16/f16 storage, possibly mixed with f32 and i32) and on f32 copies of them
// (the reference), with the arguments listed in `written` poisoned before each run. Afterwards every argument
// must hold the reference rounded to its dtype, bit for bit (inputs trivially, outputs because one rounding
// after identical f32 compute is the only difference), and the written ones must be finite.
void expect_rounded_f32(const std::vector<Tensor>& args, const std::vector<int>& written, const Op& op) {
  std::vector<Tensor> ref, low;
  for (const Tensor& a : args) {
    ref.push_back(is_low_precision(a.dtype()) ? a.to(f32) : a.clone());
    low.push_back(a.clone());
  }
  for (int i : written) {
    ref[i].fill(kNaN);
    low[i].fill(kNaN);
  }
  op(ref);
  op(low);
  for (int i : written) expect_finite(ref[i], "reference output " + std::to_string(i));
  for (size_t i = 0; i < args.size(); ++i) {
    expect_same_bits(low[i], ref[i].to(args[i].dtype()), "argument " + std::to_string(i));
  }
}

class LowPrecisionOps : public ::testing::TestWithParam<DType> {
 protected:
  DType lp() const { return GetParam(); }
  // Normal values (times `scale`) rounded to `dtype`, the storage dtype unless given.
  Tensor rnd(const Shape& shape, double scale = 1.0) { return rnd_as(shape, lp(), scale); }
  Tensor rnd_as(const Shape& shape, DType dtype, double scale = 1.0) {
    return test::randn(shape, gen_, f32, scale).to(dtype);
  }
  Tensor empty(const Shape& shape, DType dtype) { return Tensor::empty(shape, dtype); }
  Tensor empty(const Shape& shape) { return empty(shape, lp()); }

 private:
  std::mt19937 gen_{20240611};
};

// ---- GEMM and linear ----

TEST_P(LowPrecisionOps, MatmulWritesAndAccumulates) {
  // out (5, 6) = 1.5 a^T b^T + 0.5 out: out is read (beta) and written.
  expect_rounded_f32({rnd({5, 6}), rnd({7, 5}), rnd({6, 7})}, {},
                     [](auto& t) { ops::matmul(t[0], t[1], t[2], true, true, 1.5, 0.5); });
  expect_rounded_f32({empty({5, 6}), rnd({5, 7}), rnd({7, 6})}, {0},
                     [](auto& t) { ops::matmul(t[0], t[1], t[2]); });
}

TEST_P(LowPrecisionOps, LinearForward) {
  expect_rounded_f32({empty({6, 5}), rnd({6, 7}), rnd({5, 7}), rnd({5})}, {0},
                     [](auto& t) { ops::linear_forward(t[0], t[1], t[2], t[3]); });
  expect_rounded_f32({empty({6, 5}), rnd({6, 7}), rnd({5, 7})}, {0},
                     [](auto& t) { ops::linear_forward(t[0], t[1], t[2], Tensor{}); });
}

TEST_P(LowPrecisionOps, LinearBackwardAccumulatesIntoExistingGradients) {
  // din written; dweight (5, 7) and dbias (5) start nonzero and are accumulated.
  expect_rounded_f32({empty({6, 7}), rnd({5, 7}), rnd({5}), rnd({6, 5}), rnd({6, 7}), rnd({5, 7})}, {0},
                     [](auto& t) { ops::linear_backward(t[0], t[1], t[2], t[3], t[4], t[5]); });
}

// Over several calls a bf16/f16 gradient is rounded after each one, so it drifts from the f32 sum; each
// rounding errs by at most the unit roundoff (2^-8 bf16, 2^-11 f16) of the running sum, and over two
// micro-batches of like size the relative L2 error stays below that bound.
TEST_P(LowPrecisionOps, LinearBackwardOverMicroBatchesStaysWithinOneRounding) {
  const double bound = lp() == DType::bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  Tensor weight = rnd({16, 24});
  Tensor dweight = Tensor::zeros({16, 24}, lp()), ref = Tensor::zeros({16, 24}, f32);
  Tensor none;
  for (int mb = 0; mb < 2; ++mb) {
    Tensor dout = rnd({32, 16}), in = rnd({32, 24});
    ops::linear_backward(none, dweight, none, dout, in, weight);
    ops::linear_backward(none, ref, none, dout.to(f32), in.to(f32), weight.to(f32));
  }
  EXPECT_LE(relative_l2(dweight, ref), bound);
  EXPECT_GT(relative_l2(dweight, ref), 0.0);  // it did round: the bound is not vacuous
}

// ---- Embedding ----

TEST_P(LowPrecisionOps, EmbeddingForwardAndBackward) {
  const Tensor tokens = int_tensor({3, 0, 10, 3, 7, 3, 1});  // repeats: the scatter-add sums rows
  expect_rounded_f32({empty({7, 8}), tokens, rnd({11, 8})}, {0},
                     [](auto& t) { ops::embedding_forward(t[0], t[1], t[2]); });
  expect_rounded_f32({rnd({11, 8}), rnd({7, 8}), tokens}, {},
                     [](auto& t) { ops::embedding_backward(t[0], t[1], t[2]); });
}

TEST_P(LowPrecisionOps, VocabRangeEmbeddingForwardAndBackward) {
  const Tensor tokens = int_tensor({3, 0, 10, 3, 7, 3, 1});  // ids [2, 8) here: 0, 1 and 10 are not
  expect_rounded_f32({empty({7, 8}), tokens, rnd({6, 8})}, {0},
                     [](auto& t) { ops::vocab_range_embedding_forward(t[0], t[1], t[2], 2, 11); });
  expect_rounded_f32({rnd({6, 8}), rnd({7, 8}), tokens}, {},
                     [](auto& t) { ops::vocab_range_embedding_backward(t[0], t[1], t[2], 2, 11); });
}

// ---- Norms: bf16/f16 activations and parameters, f32 statistics ----

TEST_P(LowPrecisionOps, LayerNormWithF32Statistics) {
  const Tensor in = rnd({6, 16}, 2.0), weight = rnd({16}), bias = rnd({16});
  expect_rounded_f32({empty({6, 16}), empty({6}, f32), empty({6}, f32), in, weight, bias}, {0, 1, 2},
                     [](auto& t) { ops::layernorm_forward(t[0], t[1], t[2], t[3], t[4], t[5], 1e-5); });
  Tensor out = empty({6, 16}, f32), mean = empty({6}, f32), rstd = empty({6}, f32);
  ops::layernorm_forward(out, mean, rstd, in.to(f32), weight.to(f32), bias.to(f32), 1e-5);
  expect_rounded_f32(
      {empty({6, 16}), rnd({16}), rnd({16}), rnd({6, 16}), in, weight, mean, rstd}, {0},
      [](auto& t) { ops::layernorm_backward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]); });
}

TEST_P(LowPrecisionOps, RmsNormWithF32Statistics) {
  const Tensor in = rnd({6, 16}, 2.0), weight = rnd({16});
  expect_rounded_f32({empty({6, 16}), empty({6}, f32), in, weight}, {0, 1},
                     [](auto& t) { ops::rmsnorm_forward(t[0], t[1], t[2], t[3], 1e-6); });
  Tensor out = empty({6, 16}, f32), rstd = empty({6}, f32);
  ops::rmsnorm_forward(out, rstd, in.to(f32), weight.to(f32), 1e-6);
  expect_rounded_f32({empty({6, 16}), rnd({16}), rnd({6, 16}), in, weight, rstd}, {0},
                     [](auto& t) { ops::rmsnorm_backward(t[0], t[1], t[2], t[3], t[4], t[5]); });
}

// ---- Activations ----

TEST_P(LowPrecisionOps, GeluAndSwiglu) {
  expect_rounded_f32({empty({5, 12}), rnd({5, 12}, 3.0)}, {0},
                     [](auto& t) { ops::gelu_forward(t[0], t[1]); });
  expect_rounded_f32({empty({5, 12}), rnd({5, 12}), rnd({5, 12}, 3.0)}, {0},
                     [](auto& t) { ops::gelu_backward(t[0], t[1], t[2]); });
  expect_rounded_f32({empty({5, 6}), rnd({5, 12}, 3.0)}, {0},
                     [](auto& t) { ops::swiglu_forward(t[0], t[1]); });
  expect_rounded_f32({empty({5, 12}), rnd({5, 6}), rnd({5, 12}, 3.0)}, {0},
                     [](auto& t) { ops::swiglu_backward(t[0], t[1], t[2]); });
}

// ---- RoPE, out of place and in place ----

TEST_P(LowPrecisionOps, Rope) {
  expect_rounded_f32({empty({2, 5, 3, 8}), rnd({2, 5, 3, 8})}, {0},
                     [](auto& t) { ops::rope_forward(t[0], t[1], 10000.0, 3); });
  expect_rounded_f32({rnd({2, 5, 3, 8})}, {}, [](auto& t) { ops::rope_forward(t[0], t[0], 10000.0, 3); });
  expect_rounded_f32({rnd({2, 5, 3, 8})}, {}, [](auto& t) { ops::rope_backward(t[0], t[0], 500.0, 1); });
}

// ---- Attention: bf16/f16 q, k, v, out and gradients; f32 log-sum-exp ----

TEST_P(LowPrecisionOps, AttentionWithF32LogSumExp) {
  // T = 67 spans two query blocks of the CPU kernel; 4 query heads share 2 kv heads.
  const int64_t b = 2, t = 67, h = 4, hkv = 2, d = 8;
  const Tensor q = rnd({b, t, h, d}), k = rnd({b, t, hkv, d}), v = rnd({b, t, hkv, d});
  expect_rounded_f32({empty({b, t, h, d}), empty({b, h, t}, f32), q, k, v}, {0, 1},
                     [](auto& x) { ops::attention_forward(x[0], x[1], x[2], x[3], x[4]); });
  Tensor out = empty({b, t, h, d}, f32), lse = empty({b, h, t}, f32);
  ops::attention_forward(out, lse, q.to(f32), k.to(f32), v.to(f32));
  expect_rounded_f32({empty({b, t, h, d}), empty({b, t, hkv, d}), empty({b, t, hkv, d}), rnd({b, t, h, d}), q,
                      k, v, out.to(lp()), lse},
                     {0, 1, 2}, [](auto& x) {
                       ops::attention_backward(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8]);
                     });
}

// ---- Softmax and cross-entropy ----

TEST_P(LowPrecisionOps, Softmax) {
  expect_rounded_f32({empty({4, 9}), rnd({4, 9}, 3.0)}, {0},
                     [](auto& t) { ops::softmax_forward(t[0], t[1]); });
  Tensor y = empty({4, 9}, f32);
  ops::softmax_forward(y, rnd({4, 9}, 3.0).to(f32));
  expect_rounded_f32({empty({4, 9}), rnd({4, 9}), y.to(lp())}, {0},
                     [](auto& t) { ops::softmax_backward(t[0], t[1], t[2]); });
}

TEST_P(LowPrecisionOps, CrossEntropyWithF32LossesInPlaceBackward) {
  // logits (6, 12) of which 10 columns are real; one ignored target.
  const int64_t vocab = 10;
  const Tensor logits = rnd({6, 12}, 3.0), targets = int_tensor({4, 0, -1, 9, 4, 2});
  expect_rounded_f32({empty({6}, f32), empty({6}, f32), logits, targets}, {0, 1},
                     [&](auto& t) { ops::cross_entropy_forward(t[0], t[1], t[2], t[3], vocab); });
  expect_rounded_f32({empty({6}), empty({6}), logits, targets}, {0, 1},  // all in storage precision
                     [&](auto& t) { ops::cross_entropy_forward(t[0], t[1], t[2], t[3], vocab); });
  Tensor losses = empty({6}, f32), lse = empty({6}, f32);
  ops::cross_entropy_forward(losses, lse, logits.to(f32), targets, vocab);
  expect_rounded_f32({empty({6, 12}), logits, lse, targets}, {0},
                     [&](auto& t) { ops::cross_entropy_backward(t[0], t[1], t[2], t[3], vocab, 0.25); });
  expect_rounded_f32({logits, lse, targets}, {},  // dlogits written over the logits
                     [&](auto& t) { ops::cross_entropy_backward(t[0], t[0], t[1], t[2], vocab, 0.25); });
}

// ---- Elementwise helpers ----

TEST_P(LowPrecisionOps, AddScaleAndSumSquares) {
  expect_rounded_f32({empty({7, 3}), rnd({7, 3}), rnd({7, 3})}, {0},
                     [](auto& t) { ops::add(t[0], t[1], t[2]); });
  expect_rounded_f32({rnd({7, 3}), rnd({7, 3})}, {}, [](auto& t) { ops::add(t[0], t[0], t[1]); });
  expect_rounded_f32({rnd({7, 3}), rnd({7, 3})}, {}, [](auto& t) { ops::add_inplace(t[0], t[1]); });
  expect_rounded_f32({rnd({7, 3})}, {}, [](auto& t) { ops::scale_inplace(t[0], 0.3); });
  // Read straight into double and summed in the same fixed chunks as f32 copies; within a chunk the
  // compiler may vectorize the two dtypes' loops differently, so the sums agree to double rounding, not bits.
  // 40000 elements span three chunks.
  const Tensor a = rnd({40000});
  EXPECT_NEAR(ops::sum_squares(a), ops::sum_squares(a.to(f32)), 1e-12 * ops::sum_squares(a.to(f32)));
  EXPECT_GT(ops::sum_squares(a), 0.0);
}

// ---- Layout: byte copies, no conversion ----

TEST_P(LowPrecisionOps, SplitAndConcatCopyBytes) {
  const Tensor fused = rnd({4, 8});
  expect_rounded_f32({fused, empty({4, 3}), empty({4, 5})}, {1, 2}, [](auto& t) {
    ops::split_last_dim(t[0], {&t[1], &t[2]});
  });
  Tensor a = empty({4, 3}), b = empty({4, 5}), back = empty({4, 8});
  ops::split_last_dim(fused, {&a, &b});
  ops::concat_last_dim(back, {&a, &b});
  expect_same_bits(back, fused, "concat of the split");
}

// ---- AdamW refuses low precision: it belongs to the fp32 master weights ----

TEST_P(LowPrecisionOps, AdamWRefusesLowPrecisionAndNamesTheMasterWeights) {
  Tensor p = rnd({5}), g = rnd({5}), m = Tensor::zeros({5}, lp()), v = Tensor::zeros({5}, lp());
  const std::string err = test::error_of([&] {
    ops::adamw_step(p, g, m, v, {1e-3, 0.9, 0.95, 1e-8, 0.1, 1});
  });
  EXPECT_CONTAINS(err, "master weights are fp32");
  EXPECT_CONTAINS(err, dtype_name(lp()));
  Tensor p32 = p.to(f32), g32 = g.to(f32), m32 = m.to(f32), v32 = v.to(f32);
  EXPECT_CONTAINS(test::error_of([&] {
                    ops::adamw_step(p32, g, m32, v32, {1e-3, 0.9, 0.95, 1e-8, 0.1, 1});
                  }),
                  "master weights are fp32");
}

// ---- Tensor-parallel kernels ----

// Rank 0 of a two-rank tensor-parallel group whose other rank contributes nothing: every collective is the
// local copy, so the rank-0 half of each layer runs (zero rows for the other rank's ids, bias after g).
class FirstOfTwo final : public test::ForwardingComm {
 public:
  int size() const override { return 2; }
  comm::WorkPtr send_async(const Tensor&, int, int) override { fail("FirstOfTwo: no p2p"); }
  comm::WorkPtr recv_async(Tensor&, int, int) override { fail("FirstOfTwo: no p2p"); }
  std::unique_ptr<comm::Communicator> split(const std::vector<int>&, const std::string&) override {
    fail("FirstOfTwo: no split");
  }
};

// With tp > 1 the partial output is stored (rounded) before g, and the bias is added after it: the bias add
// itself is one f32 add and one rounding.
TEST_P(LowPrecisionOps, RowParallelLinearAddsItsBiasAfterG) {
  FirstOfTwo comm;
  ParamSet params;
  tp::RowParallelLinear row(params, "row", 8, 5, true, 0.5, tp::TpGroup::of(comm));
  params.finalize(lp());
  params.initialize(7);
  row.bias()->value.copy_from(rnd({5}));  // zeros at init: give the add something to round
  const Tensor in = rnd({6, 4});
  Tensor out = Tensor::full({6, 5}, kNaN, lp());
  row.forward(out, in);
  // Expected: the partial product rounded to storage, then + bias in f32, rounded.
  Tensor partial = Tensor::full({6, 5}, kNaN, f32);
  ops::linear_forward(partial, in.to(f32), row.weight().value.to(f32), Tensor{});
  Tensor expected = partial.to(lp()).to(f32);
  const Tensor bias = row.bias()->value.to(f32);
  for (int64_t i = 0; i < 6; ++i) {
    Tensor r = expected.narrow0(i, i + 1).view({5});
    ops::add_inplace(r, bias);
  }
  expect_finite(expected, "expected output");
  expect_same_bits(out, expected.to(lp()), "output");
}

TEST_P(LowPrecisionOps, VocabParallelEmbeddingCopiesRowsAndAccumulatesInF32) {
  FirstOfTwo comm;
  const tp::TpGroup group = tp::TpGroup::of(comm);
  ParamSet low, ref;
  tp::VocabParallelEmbedding emb_low(low, "wte", 12, 8, 0.5, group), emb_ref(ref, "wte", 12, 8, 0.5, group);
  low.finalize(lp());
  ref.finalize(f32);
  low.initialize(7);
  low.flat_grads().copy_from(rnd({low.numel()}));
  ref.flat_params().copy_from(low.flat_params());
  ref.flat_grads().copy_from(low.flat_grads());
  const Tensor tokens = int_tensor({3, 0, 10, 3, 7, 3, 1});  // 7 and 10 belong to rank 1: zero rows
  Tensor out = Tensor::full({7, 8}, kNaN, lp()), out_ref = Tensor::full({7, 8}, kNaN, f32);
  emb_low.forward(out, tokens);
  emb_ref.forward(out_ref, tokens);
  expect_finite(out_ref, "f32 output");
  expect_same_bits(out, out_ref.to(lp()), "lookup");
  const Tensor dout = rnd({7, 8});
  emb_low.backward(dout, tokens);
  emb_ref.backward(dout.to(f32), tokens);
  expect_same_bits(low.flat_grads(), ref.flat_grads().to(lp()), "weight gradient");
}

TEST_P(LowPrecisionOps, VocabParallelCrossEntropy) {
  FirstOfTwo comm;
  const tp::TpGroup group = tp::TpGroup::of(comm);
  const int64_t vocab = 20;  // 2 x 12 columns: rank 0 holds 12 real ones
  const Tensor logits = rnd({5, 12}, 3.0), targets = int_tensor({4, 15, -1, 11, 0});
  expect_rounded_f32({empty({5}, f32), empty({5}, f32), logits, targets}, {0, 1}, [&](auto& t) {
    tp::vocab_parallel_cross_entropy_forward(group, t[0], t[1], t[2], t[3], vocab);
  });
  Tensor losses = empty({5}, f32), lse = empty({5}, f32);
  tp::vocab_parallel_cross_entropy_forward(group, losses, lse, logits.to(f32), targets, vocab);
  expect_rounded_f32({logits, lse, targets}, {}, [&](auto& t) {
    tp::vocab_parallel_cross_entropy_backward(group, t[0], t[0], t[1], t[2], vocab, 0.5);
  });
}

// The pieces one by one, bf16/f16 logits with f32 statistics: each is f32 compute and one rounding.
TEST_P(LowPrecisionOps, CrossEntropyPartialsWithF32Statistics) {
  const int64_t vocab = 20, begin = 12;  // logits (5, 12) hold the columns [12, 24): 8 real
  const Tensor logits = rnd({5, 12}, 3.0), targets = int_tensor({4, 15, -1, 19, 12});
  expect_rounded_f32({empty({5}, f32), logits}, {0},
                     [&](auto& t) { ops::cross_entropy_partial_max(t[0], t[1], begin, vocab); });
  const Tensor row_max = rnd_as({5}, f32, 3.0);
  expect_rounded_f32({empty({2, 5}, f32), logits, row_max, targets}, {0},
                     [&](auto& t) { ops::cross_entropy_partial_sums(t[0], t[1], t[2], t[3], begin, vocab); });
  const Tensor sums = Tensor::full({2, 5}, 2.5, f32);
  expect_rounded_f32({empty({5}), empty({5}), row_max, sums, targets}, {0, 1},
                     [&](auto& t) { ops::cross_entropy_partial_loss(t[0], t[1], t[2], t[3], t[4]); });
  expect_rounded_f32({logits, row_max, targets}, {}, [&](auto& t) {
    ops::cross_entropy_partial_backward(t[0], t[0], t[1], t[2], begin, vocab, 0.5);
  });
}

TEST_P(LowPrecisionOps, AddBiasAddsInF32AndRoundsOnce) {
  expect_rounded_f32({rnd({6, 5}), rnd({5})}, {}, [](auto& t) { ops::add_bias(t[0], t[1]); });
  expect_rounded_f32({rnd({6, 5}), rnd_as({5}, f32)}, {}, [](auto& t) { ops::add_bias(t[0], t[1]); });
}

INSTANTIATE_TEST_SUITE_P(Storage, LowPrecisionOps, ::testing::Values(DType::bf16, DType::f16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace trident
