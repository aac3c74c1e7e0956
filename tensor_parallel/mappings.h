#pragma once
// The communication of tensor parallelism, as autograd-free forward/backward pairs over a TpGroup
// (Megatron-LM's megatron/core/tensor_parallel/mappings.py). All sums; a group of one communicates nothing.
//
// Megatron's conjugate pair (Shoeybi et al. 2019, section 3), for replicated (N, C) activations:
//   f: identity in forward, all-reduce in backward   (enters a column-parallel region)
//   g: all-reduce in forward, identity in backward   (leaves a row-parallel region)
//
// Sequence parallelism (Korthikanti et al. 2022) replaces f and g by an all-gather / reduce-scatter pair, so
// the activations between two tensor-parallel regions (norms, residual adds) are split along the sequence.
//
// Sequence-sharded layout: a (B, T, C) activation is flattened to its N = B*T rows, and rank r holds the
// contiguous block of rows [r*N/tp, (r+1)*N/tp) of that (N, C) matrix, viewed as (N/tp, C). An all-gather
// concatenates the rank blocks in rank order, which is exactly the flattened (B*T, C) tensor again: no
// transposes. For B = 1 the block is a split of T; for B > 1 a block may straddle two sequences, which is
// harmless because everything computed on sequence-sharded rows is row-wise (norms, residual adds, the
// embedding lookup); attention only ever sees the gathered rows. N must be divisible by tp.
//   sp_gather:  forward  all-gather      (N/tp, C) -> (N, C)      (enters a column-parallel region)
//               backward reduce-scatter  (N, C)    -> (N/tp, C)
//   sp_scatter: forward  reduce-scatter  (N, C)    -> (N/tp, C)   (leaves a row-parallel region)
//               backward all-gather      (N/tp, C) -> (N, C)
#include "core/tensor/tensor.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

// ---- f and g (in place) -----------------------------------------------------------------------------------
// f forward: identity.
inline void f_forward(const TpGroup&, const Tensor&) {}
// f backward: dx (N, C) all-reduced (summed) over the group.
void f_backward(const TpGroup& group, Tensor& dx);
// g forward: the partial outputs y (N, C) all-reduced (summed) over the group.
void g_forward(const TpGroup& group, Tensor& y);
// g backward: identity.
inline void g_backward(const TpGroup&, const Tensor&) {}

// ---- sequence parallelism (out may not alias in, except for a group of one) ------------------------------
// out (N, C) = the rank blocks in (N/tp, C) concatenated in rank order.
void sp_gather_forward(const TpGroup& group, Tensor& out, const Tensor& in);
// din (N/tp, C) = this rank's block of the sum over the group of dout (N, C).
void sp_gather_backward(const TpGroup& group, Tensor& din, const Tensor& dout);
// out (N/tp, C) = this rank's block of the sum over the group of the partials in (N, C).
void sp_scatter_forward(const TpGroup& group, Tensor& out, const Tensor& in);
// din (N, C) = the rank blocks dout (N/tp, C) concatenated in rank order.
void sp_scatter_backward(const TpGroup& group, Tensor& din, const Tensor& dout);

// This rank's block of rows of a full (N, ...) tensor: a view of rows [rank*N/tp, (rank+1)*N/tp).
Tensor sp_rows(const TpGroup& group, const Tensor& full);

}  // namespace trident::tp
