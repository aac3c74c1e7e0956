#pragma once
// Tensor: a value type over shared storage (offset, shape, dtype, device). Always contiguous; views are
// reshapes, leading-dimension narrows and flat ranges, so every op can treat data as a dense row-major array.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/runtime/error.h"
#include "core/tensor/device.h"
#include "core/tensor/dtype.h"
#include "core/tensor/storage.h"

namespace trident {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  // A view of `storage` starting `offset` elements in.
  static Tensor view_of(std::shared_ptr<Storage> storage, int64_t offset, const Shape& shape, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + ndim() : i); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  int64_t offset() const { return offset_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

  void* raw() const { return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_); }
  template <typename T>
  T* data() const {
    TRIDENT_CHECK(dtype_of<T>() == dtype_, "tensor holds {}, accessed as {}", dtype_name(dtype_),
                  dtype_name(dtype_of<T>()));
    return static_cast<T*>(raw());
  }

  // Same elements, new shape (numel must match).
  Tensor view(const Shape& shape) const;
  // Rows [begin, end) of the leading dimension.
  Tensor narrow0(int64_t begin, int64_t end) const;
  // Elements [offset, offset + count) of the flattened tensor, viewed with `shape`.
  Tensor flat(int64_t offset, const Shape& shape) const;

  Tensor clone() const;
  Tensor to(DType dtype) const;
  // A copy on `device` (this tensor itself when it is already there).
  Tensor to(Device device) const;
  void copy_from(const Tensor& src);  // same numel; converts dtype
  void fill(double value);
  void zero();

  // Element i as double, for tests, printing and reductions that are not hot.
  double item(int64_t i = 0) const;
  std::vector<float> to_vector() const;
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, DType dtype = DType::f32);

  std::string str() const;  // "f32(2, 3) on cpu"

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;
  Shape shape_;
  DType dtype_ = DType::f32;
};

// Reuse `t` when it already has this shape, dtype and device, otherwise allocate it: activation and scratch
// buffers that persist from one micro-batch to the next.
inline Tensor& ensure(Tensor& t, const Shape& shape, DType dtype, Device device) {
  if (!t.defined() || t.shape() != shape || t.dtype() != dtype || t.device() != device)
    t = Tensor::empty(shape, dtype, device);
  return t;
}

// ||a - ref|| / ||ref|| over all elements, in double: how tests and layout checks compare tensors.
double relative_l2(const Tensor& a, const Tensor& ref);

}  // namespace trident
