#pragma once
// Private helpers for the CPU reference kernels (core/ops/cpu/*.cpp): f32/f64 dispatch, and bf16/f16 storage
// run through the f32 code (ran_in_f32). The argument checks are the ops' entries' (core/ops/<op>.cpp).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "core/ops/op_checks.h"
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

using checks::require_defined;
using checks::require_dtype;
using checks::require_numel;
using checks::require_shape;
using checks::rows_of;

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
      fail("ops::{}: dtype {} is not supported on CPU (f32 and f64 compute; bf16 and f16 storage)", op,
           dtype_name(dtype));
  }
}

// dispatch_float plus f(bf16{}) and f(f16{}), for ops that only copy or read elements (embedding lookup,
// sum_squares) and so need no f32 round trip.
template <typename F>
void dispatch_storage(std::string_view op, DType dtype, F&& f) {
  switch (dtype) {
    case DType::bf16:
      f(bf16{});
      return;
    case DType::f16:
      f(f16{});
      return;
    default:
      dispatch_float(op, dtype, f);
  }
}

// An element's value for arithmetic: bf16/f16 widen exactly to float, f32/f64 stay as they are.
template <typename T>
auto widen(T x) {
  if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>) {
    return static_cast<float>(x);
  } else {
    return x;
  }
}

// ---- Low-precision storage ------------------------------------------------------------------------------
// bf16 and f16 are storage formats on CPU; compute stays f32 (the CUDA ops will compute in bf16 natively). An
// op that receives a bf16/f16 tensor calls itself once more on f32 tensors and rounds its outputs back
// (nearest even), so a mixed-precision step (bf16 activations, f32 statistics) is testable without a GPU. The
// op's own signature says what each argument is:
//   const Tensor&   input: bf16/f16 widened into an f32 copy; f32, f64 and i32 pass through uncopied;
//   Tensor&         output: bf16/f16 get an f32 temporary widened from their current contents, so outputs
//                   the op accumulates into (dweight +=, matmul's beta) keep their value, at the price of one
//                   wasted conversion for written ones; rounded back once the op returns. f32 passes through;
//   anything else   passes through (scalars, the tensor-parallel group).
// All inputs are widened before the op runs and all outputs rounded back after it, so outputs that may alias
// an input (rope, cross-entropy backward, add) stay correct. If the op throws, no output is touched.
//
//   void gelu_forward(Tensor& out, const Tensor& in) {
//     if (cpu::ran_in_f32(gelu_forward, out, in)) return;  // false, having done nothing, for f32/f64
//     ...

inline bool is_low_precision(DType t) {
  return t == DType::bf16 || t == DType::f16;
}

namespace detail {

template <typename A>
bool holds_low_precision(const A& a) {
  if constexpr (std::is_same_v<A, Tensor>) {
    return is_low_precision(a.dtype()) && a.defined() && a.device().is_cpu();
  } else {
    return false;
  }
}

// One argument of the f32 call, by the op's parameter type P: passed through unless it is a tensor.
template <typename P>
class F32Arg {
  static_assert(!std::is_same_v<std::remove_cvref_t<P>, Tensor>, "tensors go by Tensor& or const Tensor&");

 public:
  explicit F32Arg(P value) : value_(value) {}
  P get() { return value_; }
  void round_back() {}

 private:
  P value_;
};

template <>
class F32Arg<const Tensor&> {
 public:
  explicit F32Arg(const Tensor& t) : t_(t), f32_(holds_low_precision(t) ? t.to(DType::f32) : Tensor{}) {}
  const Tensor& get() const { return f32_.defined() ? f32_ : t_; }
  void round_back() {}

 private:
  const Tensor& t_;
  Tensor f32_;
};

template <>
class F32Arg<Tensor&> {
 public:
  explicit F32Arg(Tensor& t) : t_(t), f32_(holds_low_precision(t) ? t.to(DType::f32) : Tensor{}) {}
  Tensor& get() { return f32_.defined() ? f32_ : t_; }
  void round_back() {
    if (f32_.defined()) t_.copy_from(f32_);
  }

 private:
  Tensor& t_;
  Tensor f32_;
};

}  // namespace detail

// Runs op(args...) on f32 tensors in place of its bf16/f16 ones and rounds the outputs back; returns true.
// Returns false at once when no CPU tensor argument is bf16/f16. The f32 tensors live until it returns.
template <typename... P, typename... A>
bool ran_in_f32(void (*op)(P...), A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "pass every argument of the op");
  if (!(detail::holds_low_precision(args) || ...)) return false;
  std::tuple<detail::F32Arg<P>...> f32(args...);  // widens every tensor before the op reads or writes any
  std::apply([&](auto&... a) { op(a.get()...); }, f32);
  std::apply([](auto&... a) { (a.round_back(), ...); }, f32);
  return true;
}

}  // namespace trident::ops::cpu
