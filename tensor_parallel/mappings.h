#pragma once
// Megatron's conjugate mappings (Shoeybi et al. 2019, section 3):
//   f: identity in forward, all-reduce over the tp group in backward (enters a column-parallel region);
//   g: all-reduce in forward, identity in backward (leaves a row-parallel region).
#include "core/runtime/error.h"
#include "core/tensor/tensor.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

inline void require_single_rank(const TpGroup& group, const char* what) {
  if (group.size != 1)
    fail("{} over a tensor-parallel group of {} ranks needs the communicator backend", what, group.size);
}

// f forward: identity.
inline void f_forward(const TpGroup&, const Tensor&) {}
// f backward: all-reduce the input gradient (a no-op for one rank).
inline void f_backward(const TpGroup& group, Tensor&) {
  require_single_rank(group, "f (all-reduce backward)");
}
// g forward: all-reduce the partial outputs (a no-op for one rank).
inline void g_forward(const TpGroup& group, Tensor&) {
  require_single_rank(group, "g (all-reduce forward)");
}
// g backward: identity.
inline void g_backward(const TpGroup&, const Tensor&) {}

}  // namespace trident::tp
