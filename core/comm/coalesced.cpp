#include "core/comm/coalesced.h"

namespace trident::comm {

void all_reduce_coalesced(Communicator& comm, const std::vector<Tensor>& tensors, ReduceOp op) {
  if (tensors.empty()) return;
  const DType dtype = tensors.front().dtype();
  int64_t total = 0;
  for (const Tensor& t : tensors) {
    TRIDENT_CHECK(t.dtype() == dtype, "all_reduce_coalesced: {} among {} tensors", t.str(),
                  dtype_name(dtype));
    total += t.numel();
  }
  Tensor packed = Tensor::empty({total}, dtype, tensors.front().device());
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    packed.flat(offset, t.shape()).copy_from(t);
    offset += t.numel();
  }
  comm.all_reduce(packed, op);
  offset = 0;
  for (Tensor t : tensors) {
    t.copy_from(packed.flat(offset, t.shape()));
    offset += t.numel();
  }
}

}  // namespace trident::comm
