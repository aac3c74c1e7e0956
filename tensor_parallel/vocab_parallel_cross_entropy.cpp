#include "tensor_parallel/vocab_parallel_cross_entropy.h"

#include "core/ops/op_checks.h"
#include "core/ops/ops.h"

namespace trident::tp {
namespace {

// This rank's first global column: logits (N, Vp/tp) hold [rank * Vp/tp, (rank + 1) * Vp/tp).
int64_t first_column(const TpGroup& group, const char* what, const Tensor& logits, int64_t vocab) {
  group.check(what);
  TRIDENT_CHECK(logits.defined() && logits.ndim() == 2, "{}: logits {} are not (N, Vp/tp)", what,
                logits.defined() ? logits.str() : std::string("undefined"));
  const int64_t local = logits.dim(1);
  TRIDENT_CHECK(vocab > 0 && vocab <= local * group.size, "{}: vocab {} for {} columns over {} ranks", what,
                vocab, local, group.size);
  return group.rank * local;
}

}  // namespace

void vocab_parallel_cross_entropy_forward(const TpGroup& group, Tensor& losses, Tensor& lse,
                                          const Tensor& logits, const Tensor& targets, int64_t vocab) {
  const int64_t begin = first_column(group, "vocab-parallel cross-entropy", logits, vocab);
  const int64_t n = logits.dim(0);
  // f32 statistics for f32/bf16/f16 logits, f64 for the f64 reference.
  const DType stat = ops::checks::compute_dtype(logits.dtype());
  Tensor row_max = Tensor::empty({n}, stat, logits.device());
  ops::cross_entropy_partial_max(row_max, logits, begin, vocab);
  if (group.size > 1) group.comm->all_reduce(row_max, comm::ReduceOp::max);
  // [sum exp | target logit] per row, summed over the group in one all-reduce.
  Tensor sums = Tensor::empty({2, n}, stat, logits.device());
  ops::cross_entropy_partial_sums(sums, logits, row_max, targets, begin, vocab);
  if (group.size > 1) group.comm->all_reduce(sums, comm::ReduceOp::sum);
  ops::cross_entropy_partial_loss(losses, lse, row_max, sums, targets);
}

void vocab_parallel_cross_entropy_backward(const TpGroup& group, Tensor& dlogits, const Tensor& logits,
                                           const Tensor& lse, const Tensor& targets, int64_t vocab,
                                           double dloss_scale) {
  const int64_t begin = first_column(group, "vocab-parallel cross-entropy backward", logits, vocab);
  ops::cross_entropy_partial_backward(dlogits, logits, lse, targets, begin, vocab, dloss_scale);
}

}  // namespace trident::tp
