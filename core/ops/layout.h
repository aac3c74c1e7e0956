#pragma once
// Layout ops: cut a fused (N, C0 + C1 + ...) tensor into its column blocks and back, e.g. the fused qkv
// projection into q, k and v. Dtype-agnostic (byte copies); all tensors share one dtype.
#include <vector>

#include "core/tensor/tensor.h"

namespace trident::ops {

// in (N, sum Ci) -> outs[i] (N, Ci); rows N = numel / last dim.
void split_last_dim(const Tensor& in, const std::vector<Tensor*>& outs);
// ins[i] (N, Ci) -> out (N, sum Ci).
void concat_last_dim(Tensor& out, const std::vector<const Tensor*>& ins);

}  // namespace trident::ops
