#pragma once
// One object per CUDA device, made on first use and kept for the life of the process: the compute streams,
// the cuBLASLt handles and the caching allocators are each this process-wide runtime state.
#include <array>
#include <memory>
#include <mutex>

#include "core/runtime/error.h"

namespace trident {

template <typename T>
class PerDevice {
 public:
  static constexpr int kMaxDevices = 16;

  // The device's object, made by make() the first time.
  template <typename Make>
  T& get(int device, Make&& make) {
    TRIDENT_CHECK(device >= 0 && device < kMaxDevices, "cuda:{}: at most {} devices", device, kMaxDevices);
    std::lock_guard<std::mutex> lock(mu_);
    if (!objects_[device]) objects_[device] = make();
    return *objects_[device];
  }

 private:
  std::array<std::unique_ptr<T>, kMaxDevices> objects_;
  std::mutex mu_;
};

}  // namespace trident
