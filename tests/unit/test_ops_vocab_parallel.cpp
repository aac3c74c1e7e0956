// The tensor-parallel ops on CPU: the vocabulary-range embedding, the vocabulary-parallel cross-entropy
// pieces and the bias add. Each rank's part is run here for every rank of a simulated group, the collectives
// done by hand in double, and the result is held against an independent computation: naive loops over the
// whole table or the whole logits. Gradients are checked by finite differences in f64 (ops_test_util.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/ops/ops.h"
#include "tests/unit/ops_test_util.h"
#include "tests/unit/test_util.h"

namespace trident {
namespace {

using test::check_grad;
using test::dot_sum;
using test::error_of;
using test::int_tensor;
using test::randn;
constexpr DType f64 = DType::f64;

// Columns [begin, begin + count) of a 2-D f64 tensor, as a contiguous (rows, count) tensor.
Tensor columns(const Tensor& t, int64_t begin, int64_t count) {
  const int64_t rows = t.dim(0), width = t.dim(1);
  Tensor out = Tensor::empty({rows, count}, f64);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < count; ++j) out.data<double>()[i * count + j] = t.item(i * width + begin + j);
  return out;
}

// ---- Vocabulary-range embedding ----

TEST(OpsVocabParallel, RangeEmbeddingLooksUpItsRowsAndZerosTheRest) {
  std::mt19937 gen(31);
  const int64_t vocab = 10, c = 3;
  const Tensor table = randn({vocab, c}, gen);
  const Tensor tokens = int_tensor({9, 0, 4, 5, 4, 7, 2});
  // Ranges of uneven sizes that tile the vocabulary: their outputs sum to the whole lookup.
  const std::vector<std::pair<int64_t, int64_t>> ranges = {{0, 4}, {4, 5}, {5, 10}};
  Tensor sum = Tensor::zeros({7, c}, f64);
  for (const auto& [begin, end] : ranges) {
    const Tensor weight = table.narrow0(begin, end).clone();
    Tensor out = Tensor::full({7, c}, std::nan(""), f64);
    ops::vocab_range_embedding_forward(out, tokens, weight, begin, vocab);
    for (int64_t i = 0; i < 7; ++i) {
      const int64_t id = tokens.data<int32_t>()[i];
      const bool here = id >= begin && id < end;
      for (int64_t j = 0; j < c; ++j) {
        EXPECT_EQ(out.item(i * c + j), here ? table.item(id * c + j) : 0.0)
            << "token " << i << " range " << begin;
      }
    }
    ops::add_inplace(sum, out);
  }
  for (int64_t i = 0; i < 7; ++i)
    for (int64_t j = 0; j < c; ++j)
      EXPECT_EQ(sum.item(i * c + j), table.item(tokens.data<int32_t>()[i] * c + j));
}

TEST(OpsVocabParallel, RangeEmbeddingBackwardAddsOnlyItsRows) {
  std::mt19937 gen(32);
  const int64_t vocab = 9, c = 4, begin = 3, rows = 4;  // this rank: ids [3, 7)
  const Tensor tokens = int_tensor({3, 8, 6, 3, 0, 5, 6});
  const Tensor dout = randn({7, c}, gen);
  const Tensor start = randn({rows, c}, gen);
  Tensor dweight = start.clone();
  ops::vocab_range_embedding_backward(dweight, dout, tokens, begin, vocab);
  Tensor expected = start.clone();  // naive: each token's row added to its own row, if this rank holds it
  for (int64_t i = 0; i < 7; ++i) {
    const int64_t row = tokens.data<int32_t>()[i] - begin;
    if (row < 0 || row >= rows) continue;
    for (int64_t j = 0; j < c; ++j) expected.data<double>()[row * c + j] += dout.item(i * c + j);
  }
  test::expect_close(dweight, expected, 1e-15, 1e-15, "dweight");
}

TEST(OpsVocabParallel, RangeEmbeddingGradientMatchesFiniteDifferences) {
  std::mt19937 gen(33);
  const int64_t vocab = 8, c = 3, begin = 2, rows = 4;
  const Tensor tokens = int_tensor({2, 7, 5, 2, 3, 0});
  Tensor weight = randn({rows, c}, gen);
  const Tensor r = randn({6, c}, gen);
  Tensor out = Tensor::empty({6, c}, f64);
  auto loss = [&] {
    ops::vocab_range_embedding_forward(out, tokens, weight, begin, vocab);
    return dot_sum(out, r);
  };
  Tensor dweight = Tensor::zeros({rows, c}, f64);
  ops::vocab_range_embedding_backward(dweight, r, tokens, begin, vocab);
  check_grad("vocab_range_embedding dweight", weight, dweight, loss);
}

TEST(OpsVocabParallel, RangeEmbeddingRefusesBadTokensAndRanges) {
  const Tensor weight = Tensor::zeros({4, 2}, f64);
  Tensor out = Tensor::empty({3, 2}, f64), dweight = Tensor::zeros({4, 2}, f64);
  for (int32_t bad : {8, -1}) {  // outside [0, 8), though outside this rank's [4, 8) is fine
    const Tensor tokens = int_tensor({1, bad, 5});
    const std::string fwd = error_of([&] { ops::vocab_range_embedding_forward(out, tokens, weight, 4, 8); });
    EXPECT_NE(fwd.find("token id " + std::to_string(bad) + " at position 1 is outside the vocabulary [0, 8)"),
              std::string::npos)
        << fwd;
    EXPECT_NE(error_of([&] { ops::vocab_range_embedding_backward(dweight, out, tokens, 4, 8); }), "");
  }
  EXPECT_EQ(dweight.item(0), 0.0);
  const Tensor tokens = int_tensor({1, 2, 5});
  const std::string range = error_of([&] { ops::vocab_range_embedding_forward(out, tokens, weight, 5, 8); });
  EXPECT_NE(range.find("the rows [5, 9)"), std::string::npos) << range;
  Tensor short_out = Tensor::empty({2, 2}, f64);
  EXPECT_NE(error_of([&] { ops::vocab_range_embedding_forward(short_out, tokens, weight, 0, 8); }), "");
}

// ---- Vocabulary-parallel cross-entropy ----

Tensor from_values(const std::vector<double>& v, DType dtype) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, f64);
  std::copy(v.begin(), v.end(), t.data<double>());
  return t.to(dtype);
}

// One simulated group: logits (N, Vp) cut into column blocks of `local`, each rank running the partial ops,
// with the collectives (max, then sum) done here as the tensor-parallel layer does over its communicator.
void group_forward(Tensor& losses, Tensor& lse, const std::vector<Tensor>& blocks, const Tensor& targets,
                   int64_t vocab) {
  const int64_t n = targets.numel(), local = blocks[0].dim(1);
  const DType stat = blocks[0].dtype() == f64 ? f64 : DType::f32;
  std::vector<double> best(n, -std::numeric_limits<double>::infinity());
  for (size_t r = 0; r < blocks.size(); ++r) {
    Tensor m = Tensor::empty({n}, stat);
    ops::cross_entropy_partial_max(m, blocks[r], static_cast<int64_t>(r) * local, vocab);
    for (int64_t i = 0; i < n; ++i) best[i] = std::max(best[i], m.item(i));
  }
  const Tensor row_max = from_values(best, stat);
  Tensor sums = Tensor::zeros({2, n}, stat);
  for (size_t r = 0; r < blocks.size(); ++r) {
    Tensor s = Tensor::empty({2, n}, stat);
    ops::cross_entropy_partial_sums(s, blocks[r], row_max, targets, static_cast<int64_t>(r) * local, vocab);
    ops::add_inplace(sums, s);
  }
  ops::cross_entropy_partial_loss(losses, lse, row_max, sums, targets);
}

std::vector<Tensor> blocks_of(const Tensor& logits, int64_t ranks) {
  const int64_t local = logits.dim(1) / ranks;
  std::vector<Tensor> blocks;
  for (int64_t r = 0; r < ranks; ++r) blocks.push_back(columns(logits, r * local, local));
  return blocks;
}

// 3 ranks of 4 columns; vocab 10, so rank 2 holds 2 real columns and 2 of padding.
constexpr int64_t kRanks = 3, kLocal = 4, kVocab = 10, kRows = 6;

Tensor ce_targets() {
  return int_tensor({0, 9, -1, 5, 3, 4});  // every rank owns some target; one row ignored
}

TEST(OpsVocabParallel, PartialCrossEntropyMatchesNaiveLossAndLse) {
  std::mt19937 gen(41);
  const Tensor logits = randn({kRows, kRanks * kLocal}, gen, f64, 3.0);
  const Tensor targets = ce_targets();
  Tensor losses = Tensor::empty({kRows}, f64), lse = Tensor::empty({kRows}, f64);
  group_forward(losses, lse, blocks_of(logits, kRanks), targets, kVocab);
  for (int64_t i = 0; i < kRows; ++i) {
    double m = -INFINITY, s = 0.0;  // naive, over the real columns of the whole row
    for (int64_t j = 0; j < kVocab; ++j) m = std::max(m, logits.item(i * kRanks * kLocal + j));
    for (int64_t j = 0; j < kVocab; ++j) s += std::exp(logits.item(i * kRanks * kLocal + j) - m);
    const double want_lse = m + std::log(s);
    const int32_t t = targets.data<int32_t>()[i];
    EXPECT_NEAR(lse.item(i), want_lse, 1e-13) << "row " << i;
    EXPECT_NEAR(losses.item(i), t < 0 ? 0.0 : want_lse - logits.item(i * kRanks * kLocal + t), 1e-13) << i;
  }
}

TEST(OpsVocabParallel, PartialStatisticsPerRank) {
  std::mt19937 gen(42);
  const Tensor logits = randn({kRows, kLocal}, gen);  // rank 2's block: columns 8, 9 real, 10, 11 padding
  const Tensor targets = ce_targets();
  Tensor m = Tensor::empty({kRows}, f64), sums = Tensor::empty({2, kRows}, f64);
  ops::cross_entropy_partial_max(m, logits, 8, kVocab);
  const Tensor global_max = randn({kRows}, gen);  // any shift: the sums are taken relative to it
  ops::cross_entropy_partial_sums(sums, logits, global_max, targets, 8, kVocab);
  for (int64_t i = 0; i < kRows; ++i) {
    const double a = logits.item(i * kLocal), b = logits.item(i * kLocal + 1);
    EXPECT_EQ(m.item(i), std::max(a, b)) << "padding never enters the max";
    EXPECT_NEAR(sums.item(i), std::exp(a - global_max.item(i)) + std::exp(b - global_max.item(i)), 1e-14);
    const int32_t t = targets.data<int32_t>()[i];
    EXPECT_EQ(sums.item(kRows + i), t == 8 ? a : t == 9 ? b : 0.0) << "target logit of row " << i;
  }
  // A rank whose columns are all padding: max -inf, sums 0.
  ops::cross_entropy_partial_max(m, logits, 12, kVocab);
  ops::cross_entropy_partial_sums(sums, logits, global_max, targets, 12, kVocab);
  for (int64_t i = 0; i < kRows; ++i) {
    EXPECT_EQ(m.item(i), -std::numeric_limits<double>::infinity());
    EXPECT_EQ(sums.item(i), 0.0);
    EXPECT_EQ(sums.item(kRows + i), 0.0);
  }
}

TEST(OpsVocabParallel, PartialBackwardIsTheWholeGradientsColumns) {
  std::mt19937 gen(43);
  const Tensor logits = randn({kRows, kRanks * kLocal}, gen, f64, 2.0);
  const Tensor targets = ce_targets();
  const double scale = 0.7;
  Tensor losses = Tensor::empty({kRows}, f64), lse = Tensor::empty({kRows}, f64);
  const std::vector<Tensor> blocks = blocks_of(logits, kRanks);
  group_forward(losses, lse, blocks, targets, kVocab);
  for (int64_t r = 0; r < kRanks; ++r) {
    Tensor d = Tensor::full({kRows, kLocal}, std::nan(""), f64);
    ops::cross_entropy_partial_backward(d, blocks[r], lse, targets, r * kLocal, kVocab, scale);
    for (int64_t i = 0; i < kRows; ++i) {
      const int32_t t = targets.data<int32_t>()[i];
      for (int64_t j = 0; j < kLocal; ++j) {
        const int64_t col = r * kLocal + j;
        const double p = std::exp(logits.item(i * kRanks * kLocal + col) - lse.item(i));
        const double want = t < 0 || col >= kVocab ? 0.0 : (p - (col == t ? 1.0 : 0.0)) * scale;
        EXPECT_NEAR(d.item(i * kLocal + j), want, 1e-14) << "rank " << r << " row " << i << " column " << j;
      }
    }
  }
}

TEST(OpsVocabParallel, PartialCrossEntropyGradientMatchesFiniteDifferences) {
  std::mt19937 gen(44);
  const Tensor targets = ce_targets();
  std::vector<Tensor> blocks = blocks_of(randn({kRows, kRanks * kLocal}, gen, f64, 2.0), kRanks);
  const double scale = 1.3;  // L = scale * sum of the losses
  Tensor losses = Tensor::empty({kRows}, f64), lse = Tensor::empty({kRows}, f64);
  auto loss = [&] {
    group_forward(losses, lse, blocks, targets, kVocab);
    double sum = 0.0;
    for (int64_t i = 0; i < kRows; ++i) sum += scale * losses.item(i);
    return sum;
  };
  loss();
  for (int64_t r = 0; r < kRanks - 1; ++r) {  // rank 2 too, below, through its real columns only
    Tensor d = Tensor::empty({kRows, kLocal}, f64);
    ops::cross_entropy_partial_backward(d, blocks[r], lse, targets, r * kLocal, kVocab, scale);
    check_grad("cross_entropy_partial rank " + std::to_string(r), blocks[r], d, loss);
  }
  Tensor d = Tensor::empty({kRows, kLocal}, f64);
  ops::cross_entropy_partial_backward(d, blocks[2], lse, targets, 2 * kLocal, kVocab, scale);
  check_grad("cross_entropy_partial rank 2", blocks[2], d, loss);  // padding: zero both ways
}

TEST(OpsVocabParallel, PartialCrossEntropyRefusesBadTargets) {
  const Tensor logits = Tensor::zeros({3, 4}, f64), row_max = Tensor::zeros({3}, f64);
  Tensor sums = Tensor::empty({2, 3}, f64), d = Tensor::empty({3, 4}, f64);
  const Tensor targets = int_tensor({1, 10, -1});  // 10 is past the vocabulary of 10
  const std::string message =
      error_of([&] { ops::cross_entropy_partial_sums(sums, logits, row_max, targets, 4, 10); });
  EXPECT_NE(message.find("target id 10 at position 1 is outside the vocabulary [0, 10)"), std::string::npos)
      << message;
  EXPECT_NE(error_of([&] { ops::cross_entropy_partial_backward(d, logits, row_max, targets, 4, 10, 1.0); }),
            "");
  Tensor wrong = Tensor::empty({3}, f64);  // sums are (2, N)
  EXPECT_NE(error_of([&] {
              ops::cross_entropy_partial_sums(wrong, logits, row_max, int_tensor({1, 2, 3}), 4, 10);
            }),
            "");
  Tensor f32_max = Tensor::empty({3}, DType::f32);  // statistics compute in the logits' dtype
  EXPECT_NE(error_of([&] { ops::cross_entropy_partial_max(f32_max, logits, 0, 10); }), "");
}

// ---- Bias add ----

TEST(OpsVocabParallel, AddBiasAddsToEveryRow) {
  std::mt19937 gen(51);
  const Tensor start = randn({4, 3, 5}, gen), bias = randn({5}, gen);
  Tensor out = start.clone();
  ops::add_bias(out, bias);
  for (int64_t i = 0; i < 12; ++i)
    for (int64_t j = 0; j < 5; ++j) EXPECT_EQ(out.item(i * 5 + j), start.item(i * 5 + j) + bias.item(j));
  Tensor wrong = Tensor::zeros({4, 4}, f64);
  EXPECT_NE(error_of([&] { ops::add_bias(wrong, bias); }), "");
  Tensor f32_out = Tensor::zeros({4, 5}, DType::f32);
  EXPECT_NE(error_of([&] { ops::add_bias(f32_out, bias); }), "");
}

}  // namespace
}  // namespace trident
