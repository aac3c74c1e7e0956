// Softmax kernels over the last dimension on CPU; sums accumulate in double.
#include <cmath>
#include <limits>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {

void softmax_forward(Tensor& out, const Tensor& in) {
  if (cpu::ran_in_f32(softmax_forward, out, in)) return;
  constexpr std::string_view op = "softmax_forward";
  const int64_t c = in.dim(-1);
  const int64_t n = cpu::rows_of(op, "in", in, c);
  cpu::dispatch_float(op, in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = in.data<T>();
    T* y = out.data<T>();
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      const T* xr = x + r * c;
      T* yr = y + r * c;
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < c; ++j) m = std::max(m, static_cast<double>(xr[j]));
      double sum = 0.0;
      for (int64_t j = 0; j < c; ++j) sum += std::exp(xr[j] - m);
      for (int64_t j = 0; j < c; ++j) yr[j] = static_cast<T>(std::exp(xr[j] - m) / sum);
    }
  });
}

// din = out * (dout - sum(dout * out)).
void softmax_backward(Tensor& din, const Tensor& dout, const Tensor& out) {
  if (cpu::ran_in_f32(softmax_backward, din, dout, out)) return;
  constexpr std::string_view op = "softmax_backward";
  const int64_t c = out.dim(-1);
  const int64_t n = cpu::rows_of(op, "out", out, c);
  cpu::dispatch_float(op, out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* y = out.data<T>();
    const T* dy = dout.data<T>();
    T* dx = din.data<T>();
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
    for (int64_t r = 0; r < n; ++r) {
      double dot = 0.0;
      for (int64_t j = 0; j < c; ++j) dot += static_cast<double>(dy[r * c + j]) * y[r * c + j];
      for (int64_t j = 0; j < c; ++j) {
        dx[r * c + j] = static_cast<T>(y[r * c + j] * (dy[r * c + j] - dot));
      }
    }
  });
}

}  // namespace trident::ops::cpu
