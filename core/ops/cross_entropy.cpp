// Softmax cross-entropy and its vocabulary-parallel pieces: the one entry of each op: argument checks, then
// the backend. Targets live where the logits do, so each backend checks them against the vocabulary itself.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {
namespace {

using namespace checks;

// logits (N, V_local) and targets (N) i32; returns N.
int64_t check_logits(std::string_view op, const Tensor& logits, const Tensor& targets) {
  require_defined(op, "logits", logits);
  require_defined(op, "targets", targets);
  TRIDENT_CHECK(logits.ndim() == 2, "ops::{}: logits {} should be (N, Vp)", op, logits.str());
  TRIDENT_CHECK(targets.dtype() == DType::i32, "ops::{}: targets {} should hold i32", op, targets.str());
  require_numel(op, "targets", targets, logits.dim(0));
  return logits.dim(0);
}

// The whole padded vocabulary: logits (N, Vp), the first `vocab` columns real.
int64_t check_cross_entropy(std::string_view op, const Tensor& logits, const Tensor& targets, int64_t vocab) {
  const int64_t n = check_logits(op, logits, targets);
  TRIDENT_CHECK(0 < vocab && vocab <= logits.dim(1), "ops::{}: vocab {} outside (0, {}] for logits {}", op,
                vocab, logits.dim(1), logits.str());
  return n;
}

// One rank's columns [vocab_start, vocab_start + V_local) of logits padded past `vocab`.
int64_t check_partial(std::string_view op, const Tensor& logits, const Tensor& targets, int64_t vocab_start,
                      int64_t vocab) {
  const int64_t n = check_logits(op, logits, targets);
  TRIDENT_CHECK(vocab > 0 && vocab_start >= 0, "ops::{}: vocab {} and vocab_start {} for logits {}", op,
                vocab, vocab_start, logits.str());
  return n;
}

}  // namespace

void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& targets,
                           int64_t vocab) {
  constexpr std::string_view op = "cross_entropy_forward";
  const int64_t n = check_cross_entropy(op, logits, targets, vocab);
  require_numel(op, "losses", losses, n);
  require_numel(op, "lse", lse, n);
  require_compute_dtype(op, logits, {&losses, &lse});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(losses, lse, logits, targets))
      return cuda::cross_entropy_forward(losses, lse, logits, targets, vocab);
  cpu::cross_entropy_forward(losses, lse, logits, targets, vocab);
}

void cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse, const Tensor& targets,
                            int64_t vocab, double dloss_scale) {
  constexpr std::string_view op = "cross_entropy_backward";
  const int64_t n = check_cross_entropy(op, logits, targets, vocab);
  require_shape(op, "dlogits", dlogits, logits.shape());
  require_numel(op, "lse", lse, n);
  require_compute_dtype(op, logits, {&dlogits, &lse});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(dlogits, logits, lse, targets))
      return cuda::cross_entropy_backward(op, dlogits, logits, lse, targets, 0, vocab, dloss_scale);
  cpu::cross_entropy_backward(op, dlogits, logits, lse, targets, 0, vocab, dloss_scale);
}

void cross_entropy_partial_max(Tensor& row_max, const Tensor& logits, int64_t vocab_start, int64_t vocab) {
  constexpr std::string_view op = "cross_entropy_partial_max";
  require_defined(op, "logits", logits);
  TRIDENT_CHECK(logits.ndim() == 2, "ops::{}: logits {} should be (N, V_local)", op, logits.str());
  TRIDENT_CHECK(vocab > 0 && vocab_start >= 0, "ops::{}: vocab {} and vocab_start {} for logits {}", op,
                vocab, vocab_start, logits.str());
  require_numel(op, "row_max", row_max, logits.dim(0));
  require_compute_dtype(op, logits, {&row_max});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(row_max, logits))
      return cuda::cross_entropy_partial_max(row_max, logits, vocab_start, vocab);
  cpu::cross_entropy_partial_max(row_max, logits, vocab_start, vocab);
}

void cross_entropy_partial_sums(Tensor& sums, const Tensor& logits, const Tensor& row_max,
                                const Tensor& targets, int64_t vocab_start, int64_t vocab) {
  constexpr std::string_view op = "cross_entropy_partial_sums";
  const int64_t n = check_partial(op, logits, targets, vocab_start, vocab);
  require_numel(op, "row_max", row_max, n);
  require_shape(op, "sums", sums, {2, n});
  require_compute_dtype(op, logits, {&row_max, &sums});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(sums, logits, row_max, targets))
      return cuda::cross_entropy_partial_sums(sums, logits, row_max, targets, vocab_start, vocab);
  cpu::cross_entropy_partial_sums(sums, logits, row_max, targets, vocab_start, vocab);
}

void cross_entropy_partial_loss(Tensor& losses, Tensor& lse, const Tensor& row_max, const Tensor& sums,
                                const Tensor& targets) {
  constexpr std::string_view op = "cross_entropy_partial_loss";
  require_defined(op, "row_max", row_max);
  require_defined(op, "targets", targets);
  const int64_t n = row_max.numel();
  TRIDENT_CHECK(targets.dtype() == DType::i32, "ops::{}: targets {} should hold i32", op, targets.str());
  require_numel(op, "targets", targets, n);
  require_shape(op, "sums", sums, {2, n});
  require_numel(op, "losses", losses, n);
  require_numel(op, "lse", lse, n);
  require_compute_dtype(op, row_max, {&sums, &losses, &lse});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(losses, lse, row_max, sums, targets))
      return cuda::cross_entropy_partial_loss(losses, lse, row_max, sums, targets);
  cpu::cross_entropy_partial_loss(losses, lse, row_max, sums, targets);
}

void cross_entropy_partial_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                                    const Tensor& targets, int64_t vocab_start, int64_t vocab,
                                    double dloss_scale) {
  constexpr std::string_view op = "cross_entropy_partial_backward";
  const int64_t n = check_partial(op, logits, targets, vocab_start, vocab);
  require_shape(op, "dlogits", dlogits, logits.shape());
  require_numel(op, "lse", lse, n);
  require_compute_dtype(op, logits, {&dlogits, &lse});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(dlogits, logits, lse, targets))
      return cuda::cross_entropy_backward(op, dlogits, logits, lse, targets, vocab_start, vocab, dloss_scale);
  cpu::cross_entropy_backward(op, dlogits, logits, lse, targets, vocab_start, vocab, dloss_scale);
}

}  // namespace trident::ops
