#pragma once
// Private helpers for the CPU reference ops: device and dtype checks, shape checks, f32/f64 dispatch.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "core/ops/ops.h"

namespace trident::ops::cpu {

// Below this many elements of work an OpenMP team costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 14;

// exp(x) in f32 without calls or branches, so that loops over it vectorize (libm's expf is a scalar call).
// x = n ln2 + r with |r| <= ln2 / 2 (Cody-Waite), e^r by Cephes' polynomial, 2^n built in the exponent bits:
// within 2 ulp of expf. Below -87.33 (where expf turns denormal) it returns 0; above 88.3 it returns e^88.3.
inline float exp_f32(float x) {
  constexpr float kLo = -87.33f, kHi = 88.3f, kLog2e = 1.44269504f;
  constexpr float kRound = 0x1.8p23f;  // adding it rounds to an integer held in the low mantissa bits
  const float xc = std::min(std::max(x, kLo), kHi);
  const float shifted = std::fma(xc, kLog2e, kRound);
  const float n = shifted - kRound;
  const float r = std::fma(n, 2.12194440e-4f, std::fma(n, -0.693359375f, xc));  // x - n ln2, ln2 split in two
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  const float er = std::fma(p, r * r, r) + 1.0f;  // e^r
  const int32_t n_int = std::bit_cast<int32_t>(shifted) - std::bit_cast<int32_t>(kRound);
  const float two_n = std::bit_cast<float>((n_int + 127) << 23);  // 2^n, n in [-126, 127]
  return x < kLo ? 0.0f : er * two_n;
}

// exp for the CPU compute dtypes: the vectorizable exp_f32 for f32, libm for f64 (the reference precision).
inline float exp_of(float x) {
  return exp_f32(x);
}
inline double exp_of(double x) {
  return std::exp(x);
}

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
