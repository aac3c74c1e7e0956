#include "core/tensor/storage.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <new>

#include "core/runtime/cuda_memory.h"
#include "core/runtime/error.h"
#include "core/runtime/memory_stats.h"

namespace trident {

namespace {
constexpr size_t kAlign = 64;  // a cache line, and enough for AVX-512 loads
}

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device.is_cuda()) {
    data_ = cuda_alloc(bytes, device.index);  // throws on a CPU-only build
  } else {
    size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    if (rounded == 0) rounded = kAlign;
    data_ = std::aligned_alloc(kAlign, rounded);
    if (data_ == nullptr) throw std::bad_alloc();
  }
  count_alloc(device_, category_, static_cast<int64_t>(bytes_));
}

Storage::Storage(size_t bytes, Pinned) : bytes_(bytes), device_(Device::cpu()), pinned_(true) {
  data_ = cuda_alloc_pinned(bytes);
  count_alloc(device_, category_, static_cast<int64_t>(bytes_));
}

Storage::~Storage() {
  count_free(device_, category_, static_cast<int64_t>(bytes_));
  if (device_.is_cpu() && !pinned_) {
    std::free(data_);
    return;
  }
  try {
    if (pinned_) {
      cuda_free_pinned(data_);
    } else {
      cuda_free(data_, device_.index);
    }
  } catch (const std::exception& e) {
    spdlog::error("freeing {} bytes of {} storage failed: {}", bytes_, pinned_ ? "pinned" : device_.str(),
                  e.what());
  }
}

}  // namespace trident
