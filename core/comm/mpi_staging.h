#pragma once
// MPI works on host memory. A device tensor passed to MpiCommunicator is staged through page-locked host
// memory: its values are copied to a pinned host tensor before the op is posted, MPI runs on that copy, and
// an output is copied back to the device when the op's Work completes (in wait() or a successful test()). The
// staging is synchronous (cudaMemcpy on the device's default stream), so a staged op costs two copies on the
// critical path: correct and simple, not fast. Device tensors that need speed use NcclCommunicator.
#include "core/tensor/tensor.h"

namespace trident::comm {

// `t` itself when it is on the host; else a pinned host tensor of t's shape and dtype, holding t's values
// when `copy_in` (inputs) and uninitialised otherwise (outputs).
Tensor host_side(const Tensor& t, bool copy_in);

// True when `host` is a staging copy of `t` (so results must be copied back to t).
inline bool staged(const Tensor& t, const Tensor& host) {
  return t.storage() != host.storage();
}

}  // namespace trident::comm
