// Fused softmax cross-entropy on CPU over a vocabulary padded to Vp columns; sums accumulate in double.
#include <cmath>
#include <limits>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops {
namespace {

constexpr int32_t kIgnoreTarget = -1;

// Shapes: logits (N, Vp), targets (N) i32. Targets are checked before any parallel region, so a bad one is
// an Error and not a crash.
int64_t check_cross_entropy(std::string_view op, const Tensor& logits, const Tensor& targets, int64_t vocab) {
  cpu::require_defined(op, "logits", logits);
  cpu::require_defined(op, "targets", targets);
  TRIDENT_CHECK(logits.ndim() == 2, "ops::{}: logits {} should be (N, Vp)", op, logits.str());
  TRIDENT_CHECK(0 < vocab && vocab <= logits.dim(1), "ops::{}: vocab {} outside (0, {}] for logits {}", op,
                vocab, logits.dim(1), logits.str());
  TRIDENT_CHECK(targets.dtype() == DType::i32, "ops::{}: targets {} should hold i32", op, targets.str());
  const int64_t n = logits.dim(0);
  cpu::require_numel(op, "targets", targets, n);
  const int32_t* tgt = targets.data<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (tgt[i] != kIgnoreTarget && (tgt[i] < 0 || tgt[i] >= vocab)) {
      fail("ops::{}: target id {} at position {} is outside the vocabulary [0, {}) (and is not -1, ignored)",
           op, tgt[i], i, vocab);
    }
  }
  return n;
}

}  // namespace

void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& targets,
                           int64_t vocab) {
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(losses, lse, logits, targets))
      return cuda::cross_entropy_forward(losses, lse, logits, targets, vocab);
  if (cpu::ran_in_f32(cross_entropy_forward, losses, lse, logits, targets, vocab)) return;
  constexpr std::string_view op = "cross_entropy_forward";
  cpu::require_cpu(op, {&losses, &lse, &logits, &targets});
  const int64_t n = check_cross_entropy(op, logits, targets, vocab);
  cpu::require_numel(op, "losses", losses, n);
  cpu::require_numel(op, "lse", lse, n);
  cpu::require_dtype(op, logits.dtype(), {&losses, &lse});
  const int64_t vp = logits.dim(1);
  const int32_t* tgt = targets.data<int32_t>();
  cpu::dispatch_float(op, logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    T* loss = losses.data<T>();
    T* lse_out = lse.data<T>();
#pragma omp parallel for schedule(static) if (n * vocab > cpu::kParallelGrain)
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

void cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse, const Tensor& targets,
                            int64_t vocab, double dloss_scale) {
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(dlogits, logits, lse, targets))
      return cuda::cross_entropy_backward(dlogits, logits, lse, targets, vocab, dloss_scale);
  if (cpu::ran_in_f32(cross_entropy_backward, dlogits, logits, lse, targets, vocab, dloss_scale)) return;
  constexpr std::string_view op = "cross_entropy_backward";
  cpu::require_cpu(op, {&dlogits, &logits, &lse, &targets});
  const int64_t n = check_cross_entropy(op, logits, targets, vocab);
  cpu::require_shape(op, "dlogits", dlogits, logits.shape());
  cpu::require_numel(op, "lse", lse, n);
  cpu::require_dtype(op, logits.dtype(), {&dlogits, &lse});
  const int64_t vp = logits.dim(1);
  const int32_t* tgt = targets.data<int32_t>();
  cpu::dispatch_float(op, logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    const T* lse_in = lse.data<T>();
    T* dx = dlogits.data<T>();  // may be x itself: every element is read once, then written
#pragma omp parallel for schedule(static) if (n * vp > cpu::kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      const T* row = x + r * vp;
      T* drow = dx + r * vp;
      if (tgt[r] == kIgnoreTarget) {
        for (int64_t j = 0; j < vp; ++j) drow[j] = T(0);
        continue;
      }
      const double l = lse_in[r];
      for (int64_t j = 0; j < vocab; ++j) {
        const double p = std::exp(row[j] - l);
        drow[j] = static_cast<T>((p - (j == tgt[r] ? 1.0 : 0.0)) * dloss_scale);
      }
      for (int64_t j = vocab; j < vp; ++j) drow[j] = T(0);  // padding columns
    }
  });
}

}  // namespace trident::ops
