// Fused softmax cross-entropy on CPU over a vocabulary padded to Vp columns, and its vocabulary-parallel
// pieces over one rank's columns; sums accumulate in double.
#include <cmath>
#include <limits>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

constexpr int32_t kIgnoreTarget = -1;

// Targets are checked before any parallel region, so a bad one is an Error and not a crash.
void check_targets(std::string_view op, const Tensor& targets, int64_t vocab) {
  const int32_t* tgt = targets.data<int32_t>();
  for (int64_t i = 0; i < targets.numel(); ++i) {
    if (tgt[i] != kIgnoreTarget && (tgt[i] < 0 || tgt[i] >= vocab)) {
      fail("ops::{}: target id {} at position {} is outside the vocabulary [0, {}) (and is not -1, ignored)",
           op, tgt[i], i, vocab);
    }
  }
}

// The real columns of logits (N, V_local) that hold the global columns from vocab_start on: those below
// vocab.
int64_t real_columns(const Tensor& logits, int64_t vocab_start, int64_t vocab) {
  return std::clamp<int64_t>(vocab - vocab_start, 0, logits.dim(1));
}

}  // namespace

void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& targets,
                           int64_t vocab) {
  if (ran_in_f32(cross_entropy_forward, losses, lse, logits, targets, vocab)) return;
  constexpr std::string_view op = "cross_entropy_forward";
  check_targets(op, targets, vocab);
  const int64_t n = logits.dim(0), vp = logits.dim(1);
  const int32_t* tgt = targets.data<int32_t>();
  dispatch_float(op, logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    T* loss = losses.data<T>();
    T* lse_out = lse.data<T>();
#pragma omp parallel for schedule(static) if (n * vocab > kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      const T* row = x + r * vp;  // only the first `vocab` columns are real
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < vocab; ++j) m = std::max(m, static_cast<double>(row[j]));
      double sum = 0.0;
      for (int64_t j = 0; j < vocab; ++j) sum += std::exp(row[j] - m);
      const double l = m + std::log(sum);
      lse_out[r] = static_cast<T>(l);
      loss[r] = tgt[r] == kIgnoreTarget ? T(0) : static_cast<T>(l - row[tgt[r]]);
    }
  });
}

void cross_entropy_backward(std::string_view op, Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                            const Tensor& targets, int64_t vocab_start, int64_t vocab, double dloss_scale) {
  if (ran_in_f32(cross_entropy_backward, op, dlogits, logits, lse, targets, vocab_start, vocab, dloss_scale))
    return;
  check_targets(op, targets, vocab);
  const int64_t n = logits.dim(0), vl = logits.dim(1), valid = real_columns(logits, vocab_start, vocab);
  const int32_t* tgt = targets.data<int32_t>();
  dispatch_float(op, logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    const T* lse_in = lse.data<T>();
    T* dx = dlogits.data<T>();  // may be x itself: every element is read once, then written
#pragma omp parallel for schedule(static) if (n * vl > kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      const T* row = x + r * vl;
      T* drow = dx + r * vl;
      if (tgt[r] == kIgnoreTarget) {
        for (int64_t j = 0; j < vl; ++j) drow[j] = T(0);
        continue;
      }
      const double l = lse_in[r];
      const int64_t target_column = tgt[r] - vocab_start;  // outside [0, valid) when another rank holds it
      for (int64_t j = 0; j < valid; ++j) {
        const double p = std::exp(row[j] - l);
        drow[j] = static_cast<T>((p - (j == target_column ? 1.0 : 0.0)) * dloss_scale);
      }
      for (int64_t j = valid; j < vl; ++j) drow[j] = T(0);  // padding columns
    }
  });
}

void cross_entropy_partial_max(Tensor& row_max, const Tensor& logits, int64_t vocab_start, int64_t vocab) {
  if (ran_in_f32(cross_entropy_partial_max, row_max, logits, vocab_start, vocab)) return;
  const int64_t n = logits.dim(0), vl = logits.dim(1), valid = real_columns(logits, vocab_start, vocab);
  dispatch_float("cross_entropy_partial_max", logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    T* m = row_max.data<T>();
#pragma omp parallel for schedule(static) if (n * valid > kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      T v = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < valid; ++j) v = std::max(v, x[r * vl + j]);
      m[r] = v;
    }
  });
}

void cross_entropy_partial_sums(Tensor& sums, const Tensor& logits, const Tensor& row_max,
                                const Tensor& targets, int64_t vocab_start, int64_t vocab) {
  if (ran_in_f32(cross_entropy_partial_sums, sums, logits, row_max, targets, vocab_start, vocab)) return;
  constexpr std::string_view op = "cross_entropy_partial_sums";
  check_targets(op, targets, vocab);
  const int64_t n = logits.dim(0), vl = logits.dim(1), valid = real_columns(logits, vocab_start, vocab);
  const int32_t* tgt = targets.data<int32_t>();
  dispatch_float(op, logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    const T* m = row_max.data<T>();
    T* sum_exp = sums.data<T>();    // (N), the first row of sums
    T* target_logit = sum_exp + n;  // (N), the second
#pragma omp parallel for schedule(static) if (n * valid > kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      const T* row = x + r * vl;
      const double row_max_r = m[r];
      double acc = 0.0;
      for (int64_t j = 0; j < valid; ++j) acc += std::exp(static_cast<double>(row[j]) - row_max_r);
      sum_exp[r] = static_cast<T>(acc);
      const int64_t y = static_cast<int64_t>(tgt[r]) - vocab_start;
      target_logit[r] = tgt[r] != kIgnoreTarget && y >= 0 && y < valid ? row[y] : T(0);
    }
  });
}

void cross_entropy_partial_loss(Tensor& losses, Tensor& lse, const Tensor& row_max, const Tensor& sums,
                                const Tensor& targets) {
  if (ran_in_f32(cross_entropy_partial_loss, losses, lse, row_max, sums, targets)) return;
  const int64_t n = row_max.numel();
  const int32_t* tgt = targets.data<int32_t>();
  dispatch_float("cross_entropy_partial_loss", row_max.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* m = row_max.data<T>();
    const T* sum_exp = sums.data<T>();
    const T* target_logit = sum_exp + n;
    T* loss = losses.data<T>();
    T* lse_out = lse.data<T>();
    for (int64_t r = 0; r < n; ++r) {
      const double l = static_cast<double>(m[r]) + std::log(static_cast<double>(sum_exp[r]));
      lse_out[r] = static_cast<T>(l);
      loss[r] = tgt[r] == kIgnoreTarget ? T(0) : static_cast<T>(l - static_cast<double>(target_logit[r]));
    }
  });
}

}  // namespace trident::ops::cpu
