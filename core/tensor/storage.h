#pragma once
#include <cstddef>
#include <memory>

#include "core/runtime/memory_stats.h"
#include "core/tensor/device.h"

namespace trident {

// A block of bytes on one device. Tensors share it through shared_ptr; views add an offset. CPU storage is
// 64-byte aligned host memory; CUDA storage comes from core/runtime/cuda_memory.h (cudaMalloc, for now).
class Storage {
 public:
  Storage(size_t bytes, Device device);
  // Page-locked host memory (a CPU device), for staging device buffers; needs the CUDA backend.
  struct Pinned {};
  Storage(size_t bytes, Pinned);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  bool pinned() const { return pinned_; }
  MemoryCategory category() const { return category_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  bool pinned_ = false;
  MemoryCategory category_ = MemoryScope::current();  // what memory accounting counts it under
};

}  // namespace trident
