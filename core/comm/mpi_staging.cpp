#include "core/comm/mpi_staging.h"

#include <memory>

namespace trident::comm {

Tensor host_side(const Tensor& t, bool copy_in) {
  if (!t.defined() || t.device().is_cpu()) return t;
  auto storage = std::make_shared<Storage>(t.nbytes(), Storage::Pinned{});
  Tensor h = Tensor::view_of(std::move(storage), 0, t.shape(), t.dtype());
  if (copy_in) h.copy_from(t);
  return h;
}

}  // namespace trident::comm
