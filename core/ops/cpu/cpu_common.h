#pragma once
// Private helpers for the CPU reference ops: device and dtype checks, shape checks, f32/f64 dispatch.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "core/ops/ops.h"

namespace trident::ops::cpu {

// Below this many elements of work an OpenMP team costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 14;

// Every op runs on CPU tensors only until a CUDA backend registers itself.
inline void require_cpu(std::string_view op, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors) {
    if (t->defined() && !t->device().is_cpu()) {
      fail("ops::{}: argument {} is on {}, but the CUDA backend is not built", op, t->str(),
           t->device().str());
    }
  }
}

inline void require_defined(std::string_view op, std::string_view name, const Tensor& t) {
  TRIDENT_CHECK(t.defined(), "ops::{}: {} is undefined", op, name);
}

// Every defined tensor in `tensors` holds `dtype`.
inline void require_dtype(std::string_view op, DType dtype, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors) {
    TRIDENT_CHECK(!t->defined() || t->dtype() == dtype, "ops::{}: {} should hold {}", op, t->str(),
                  dtype_name(dtype));
  }
}

inline void require_shape(std::string_view op, std::string_view name, const Tensor& t, const Shape& shape) {
  TRIDENT_CHECK(t.defined() && t.shape() == shape, "ops::{}: {} is {}, expected shape {}", op, name,
                t.defined() ? t.str() : std::string("undefined"), shape_str(shape));
}

inline void require_numel(std::string_view op, std::string_view name, const Tensor& t, int64_t numel) {
  TRIDENT_CHECK(t.defined() && t.numel() == numel, "ops::{}: {} is {}, expected {} elements", op, name,
                t.defined() ? t.str() : std::string("undefined"), numel);
}

// Rows of a tensor read as (N, C): its last dimension must be C; N = numel / C.
inline int64_t rows_of(std::string_view op, std::string_view name, const Tensor& t, int64_t c) {
  TRIDENT_CHECK(t.defined() && t.ndim() >= 1 && t.dim(-1) == c,
                "ops::{}: {} is {}, expected last dimension {}", op, name,
                t.defined() ? t.str() : std::string("undefined"), c);
  return c == 0 ? 0 : t.numel() / c;
}

// Calls f(float{}) or f(double{}) for the dtype; everything else is not a CPU compute dtype.
template <typename F>
void dispatch_float(std::string_view op, DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32:
      f(float{});
      return;
    case DType::f64:
      f(double{});
      return;
    default:
      fail("ops::{}: dtype {} is not supported on CPU (f32 and f64 only)", op, dtype_name(dtype));
  }
}

}  // namespace trident::ops::cpu
