#include "core/tensor/storage.h"

#include <cstdlib>
#include <new>

#include "core/runtime/error.h"

namespace trident {

namespace {
constexpr size_t kAlign = 64;  // a cache line, and enough for AVX-512 loads
}

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (!device.is_cpu())
    fail("device {} storage is provided by the CUDA backend, which this build lacks", device.str());
  size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  if (rounded == 0) rounded = kAlign;
  data_ = std::aligned_alloc(kAlign, rounded);
  if (data_ == nullptr) throw std::bad_alloc();
}

Storage::~Storage() {
  std::free(data_);
}

}  // namespace trident
