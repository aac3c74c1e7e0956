#pragma once
// One collective for many small tensors: packed into one buffer, reduced, unpacked (PyTorch's
// all_reduce_coalesced). Used for the per-step gradient fix-ups of small replicated parameters, where one
// message per tensor would be all latency.
#include <vector>

#include "core/comm/communicator.h"

namespace trident::comm {

// Every tensor (contiguous, one dtype) all-reduced in place over `comm`, in one message.
void all_reduce_coalesced(Communicator& comm, const std::vector<Tensor>& tensors, ReduceOp op);

}  // namespace trident::comm
