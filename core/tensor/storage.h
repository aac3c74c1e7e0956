#pragma once
#include <cstddef>
#include <memory>

#include "core/tensor/device.h"

namespace trident {

// A block of bytes on one device. Tensors share it through shared_ptr; views add an offset.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

}  // namespace trident
