#include "core/tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/runtime/cuda_memory.h"

namespace trident {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) TRIDENT_CHECK(d >= 0, "negative dimension in {}", shape_str(shape));
  Tensor t;
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero();
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::view_of(std::shared_ptr<Storage> storage, int64_t offset, const Shape& shape, DType dtype) {
  TRIDENT_CHECK(static_cast<size_t>(offset + shape_numel(shape)) * dtype_size(dtype) <= storage->bytes(),
                "view {} at offset {} overruns storage of {} bytes", shape_str(shape), offset,
                storage->bytes());
  Tensor t;
  t.storage_ = std::move(storage);
  t.offset_ = offset;
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::view(const Shape& shape) const {
  TRIDENT_CHECK(shape_numel(shape) == numel(), "cannot view {} as {}", shape_str(shape_), shape_str(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::narrow0(int64_t begin, int64_t end) const {
  TRIDENT_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0], "narrow0({}, {}) of {}", begin,
                end, shape_str(shape_));
  Tensor t = *this;
  int64_t row = numel() / std::max<int64_t>(shape_[0], 1);
  t.offset_ += begin * row;
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::flat(int64_t offset, const Shape& shape) const {
  TRIDENT_CHECK(offset >= 0 && offset + shape_numel(shape) <= numel(), "flat({}, {}) of {}", offset,
                shape_str(shape), shape_str(shape_));
  Tensor t = *this;
  t.offset_ += offset;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  if (device().is_cpu()) {
    std::memcpy(t.raw(), raw(), nbytes());
  } else {
    cuda_copy(t.raw(), t.device(), raw(), device(), nbytes());
  }
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return clone();
  Tensor t = empty(shape_, dtype, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (!defined() || device == this->device()) return *this;
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

namespace {

template <typename F>
void visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      return f(float{});
    case DType::f64:
      return f(double{});
    case DType::bf16:
      return f(bf16{});
    case DType::i32:
      return f(int32_t{});
    case DType::u16:
      return f(uint16_t{});
    case DType::u32:
      return f(uint32_t{});
    case DType::f16:
      return f(f16{});
  }
}

template <typename T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>) {
    return static_cast<float>(v);
  } else {
    return static_cast<double>(v);
  }
}

template <typename T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>) {
    return T(static_cast<float>(v));
  } else {
    return static_cast<T>(v);
  }
}

}  // namespace

void Tensor::copy_from(const Tensor& src) {
  TRIDENT_CHECK(src.numel() == numel(), "copy of {} into {}", shape_str(src.shape_), shape_str(shape_));
  const bool on_device = !device().is_cpu() || !src.device().is_cpu();
  if (src.dtype_ == dtype_) {
    if (on_device) {
      cuda_copy(raw(), device(), src.raw(), src.device(), nbytes());
    } else {
      std::memmove(raw(), src.raw(), nbytes());
    }
    return;
  }
  if (on_device) {
    if (device() == src.device()) {  // a conversion kernel on the device
      cuda_convert(raw(), dtype_, src.raw(), src.dtype_, numel(), device().index);
      return;
    }
    // Across devices: move the bytes to this tensor's device first, then convert there (or on the host).
    copy_from(src.to(device()).to(dtype_));
    return;
  }
  const int64_t n = numel();
  visit_dtype(dtype_, [&](auto dst_tag) {
    using D = decltype(dst_tag);
    visit_dtype(src.dtype_, [&](auto src_tag) {
      using S = decltype(src_tag);
      D* d = static_cast<D*>(raw());
      const S* s = static_cast<const S*>(src.raw());
      for (int64_t i = 0; i < n; ++i) d[i] = from_double<D>(to_double(s[i]));
    });
  });
}

void Tensor::fill(double value) {
  if (!device().is_cpu()) {
    Tensor h = empty(shape_, dtype_);
    h.fill(value);
    copy_from(h);
    return;
  }
  const int64_t n = numel();
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(raw());
    const T v = from_double<T>(value);
    for (int64_t i = 0; i < n; ++i) d[i] = v;
  });
}

void Tensor::zero() {
  if (!device().is_cpu()) return cuda_zero(raw(), device().index, nbytes());
  std::memset(raw(), 0, nbytes());
}

double Tensor::item(int64_t i) const {
  TRIDENT_CHECK(0 <= i && i < numel(), "item {} of {}", i, shape_str(shape_));
  // Device tensors are read on a host copy: fine for tests and setup, never a hot path.
  if (!device().is_cpu()) return flat(i, {1}).to(Device::cpu()).item(0);
  double out = 0;
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    out = to_double(static_cast<const T*>(raw())[i]);
  });
  return out;
}

std::vector<float> Tensor::to_vector() const {
  if (!device().is_cpu()) return to(Device::cpu()).to_vector();
  std::vector<float> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[i] = static_cast<float>(item(i));
  return v;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, DType dtype) {
  TRIDENT_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "{} values for shape {}",
                values.size(), shape_str(shape));
  Tensor t = empty(shape, dtype);
  Tensor src = empty(shape, DType::f32);
  std::memcpy(src.raw(), values.data(), values.size() * sizeof(float));
  t.copy_from(src);
  return t;
}

std::string Tensor::str() const {
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + " on " + device().str();
}

double relative_l2(const Tensor& a, const Tensor& ref) {
  TRIDENT_CHECK(a.numel() == ref.numel(), "comparing {} with {}", a.str(), ref.str());
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double r = ref.item(i), d = a.item(i) - r;
    num += d * d;
    den += r * r;
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

}  // namespace trident
