#pragma once
// DeviceGuard: makes a CUDA device current for a scope and restores the caller's device after it, so a
// library call never leaves the process on another GPU.
#include "core/runtime/cuda/cuda_check.h"

namespace trident {

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    TRIDENT_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) TRIDENT_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace trident
