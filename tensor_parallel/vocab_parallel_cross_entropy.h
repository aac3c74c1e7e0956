#pragma once
// Vocab-parallel softmax cross-entropy (Megatron's _VocabParallelCrossEntropy): the logits stay split by
// vocabulary columns, as a ColumnParallelLinear lm head (or the tied VocabParallelEmbedding weight) produces
// them, and the full (N, Vp) logits are never gathered. Rank r holds the columns
// [r*Vp/tp, (r+1)*Vp/tp) of the logits; columns with a global index >= vocab are padding and never enter.
//
//   m        = all-reduce max over ranks of the local row max            (N)
//   s, z     = all-reduce sum of [local sum exp(logit - m) | the target logit picked by its owning rank]
//   lse      = m + log(s);   loss = lse - z;   a target of -1 is ignored (loss 0)
//
// Two collectives of N and 2N statistics (f32; f64 for f64 logits), whatever the vocabulary; the per-rank
// steps between them are the ops cross_entropy_partial_{max,sums,loss} (core/ops/ops.h), so this runs on CPU
// and CUDA alike. Backward needs no communication (ops::cross_entropy_partial_backward):
// dlogits_local = (exp(logit - lse) - onehot(target)) * dloss_scale on this rank's columns.
#include <cstdint>

#include "core/tensor/tensor.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

// logits (N, Vp/tp) this rank's columns; targets (N) i32 global ids in [0, vocab) or -1. Writes losses (N)
// and lse (N) (the global row log-sum-exp, saved for backward), identical on every rank.
void vocab_parallel_cross_entropy_forward(const TpGroup& group, Tensor& losses, Tensor& lse,
                                          const Tensor& logits, const Tensor& targets, int64_t vocab);
// dlogits (N, Vp/tp) = (softmax(logits) - onehot(target)) * dloss_scale over this rank's columns; padded
// columns and ignored rows 0. dlogits may alias logits (written in place).
void vocab_parallel_cross_entropy_backward(const TpGroup& group, Tensor& dlogits, const Tensor& logits,
                                           const Tensor& lse, const Tensor& targets, int64_t vocab,
                                           double dloss_scale);

}  // namespace trident::tp
