// Elementwise activation kernels on CPU: GELU (tanh form) and SwiGLU over a fused [gate | up] input.
#include <algorithm>
#include <cmath>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

// With s = 1 / (1 + e^{-2u}): 1 + tanh(u) = 2 s and 1 - tanh(u) = 2 (1 - s) = 2 e^{-2u} s. Neither side
// cancels (the tanh form loses all digits of 1 + tanh(u) for u << 0), and the loop needs only one exp, which
// vectorizes in f32 (cpu::exp_f32). e^{-2u} is capped at kMaxExp<T> so that it and s stay finite and normal:
// past the cap gelu(x) ~ x e^{-2u} is below ~1e-37 (f32) or ~1e-303 (f64) anyway.
template <typename T>
constexpr T kMaxExp = sizeof(T) == sizeof(float) ? 87 : 700;

template <typename T>
T gelu_u(T x) {
  return static_cast<T>(kSqrt2OverPi) * (x + static_cast<T>(kGeluCubic) * x * x * x);
}

template <typename T>
T exp_minus_2u(T u) {
  return cpu::exp_of(std::min(static_cast<T>(-2) * u, kMaxExp<T>));
}

// gelu(x) = 0.5 x (1 + tanh(u)) = x s.
template <typename T>
T gelu(T x) {
  return x / (static_cast<T>(1) + exp_minus_2u(gelu_u(x)));
}

// d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) du = s + 2 x s (1 - s) du, t = tanh(u), 1 - s = e^{-2u} s.
template <typename T>
T gelu_grad(T x) {
  const T e = exp_minus_2u(gelu_u(x));
  const T s = static_cast<T>(1) / (static_cast<T>(1) + e);
  const T du = static_cast<T>(kSqrt2OverPi) * (static_cast<T>(1) + static_cast<T>(3 * kGeluCubic) * x * x);
  return s + static_cast<T>(2) * x * s * (e * s) * du;
}

template <typename T>
T sigmoid(T x) {
  return static_cast<T>(1) / (static_cast<T>(1) + std::exp(-x));
}

}  // namespace

void gelu_forward(Tensor& out, const Tensor& in) {
  if (cpu::ran_in_f32(gelu_forward, out, in)) return;
  constexpr std::string_view op = "gelu_forward";
  const int64_t n = in.numel();
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in.data<T>();
    T* y = out.data<T>();
#pragma omp parallel for schedule(static) if (n > cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) y[i] = gelu(x[i]);
  });
}

void gelu_backward(Tensor& din, const Tensor& dout, const Tensor& in) {
  if (cpu::ran_in_f32(gelu_backward, din, dout, in)) return;
  constexpr std::string_view op = "gelu_backward";
  const int64_t n = in.numel();
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in.data<T>();
    const T* dy = dout.data<T>();
    T* dx = din.data<T>();
#pragma omp parallel for schedule(static) if (n > cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * gelu_grad(x[i]);
  });
}

void swiglu_forward(Tensor& out, const Tensor& in) {
  const int64_t f = in.dim(-1) / 2, n = f == 0 ? 0 : in.numel() / (2 * f);
  if (cpu::ran_in_f32(swiglu_forward, out, in)) return;
  constexpr std::string_view op = "swiglu_forward";
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in.data<T>();
    T* y = out.data<T>();
#pragma omp parallel for schedule(static) if (n * f > cpu::kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      const T* gate = x + r * 2 * f;  // (F)
      const T* up = gate + f;         // (F)
      for (int64_t j = 0; j < f; ++j) y[r * f + j] = gate[j] * sigmoid(gate[j]) * up[j];
    }
  });
}

void swiglu_backward(Tensor& din, const Tensor& dout, const Tensor& in) {
  const int64_t f = in.dim(-1) / 2, n = f == 0 ? 0 : in.numel() / (2 * f);
  if (cpu::ran_in_f32(swiglu_backward, din, dout, in)) return;
  constexpr std::string_view op = "swiglu_backward";
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in.data<T>();
    const T* dy = dout.data<T>();
    T* dx = din.data<T>();
#pragma omp parallel for schedule(static) if (n * f > cpu::kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      const T* gate = x + r * 2 * f;
      const T* up = gate + f;
      T* dgate = dx + r * 2 * f;
      T* dup = dgate + f;
      for (int64_t j = 0; j < f; ++j) {
        const T s = sigmoid(gate[j]);
        const T g = dy[r * f + j];
        // silu'(x) = s (1 + x (1 - s))
        dgate[j] = g * up[j] * s * (static_cast<T>(1) + gate[j] * (static_cast<T>(1) - s));
        dup[j] = g * gate[j] * s;
      }
    }
  });
}

}  // namespace trident::ops::cpu
