// Elementwise kernels on CPU: add (in place too), in-place scale, and the sum of squares for the gradient
// norm.
#include <vector>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {

void add(Tensor& out, const Tensor& a, const Tensor& b) {
  if (cpu::ran_in_f32(add, out, a, b)) return;
  constexpr std::string_view op = "add";
  const int64_t n = a.numel();
  cpu::dispatch_float(op, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = a.data<T>();
    const T* y = b.data<T>();
    T* z = out.data<T>();  // may alias a or b: element i is read before it is written
#pragma omp parallel for schedule(static) if (n > cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) z[i] = x[i] + y[i];
  });
}

void scale_inplace(Tensor& a, double s) {
  if (cpu::ran_in_f32(scale_inplace, a, s)) return;
  constexpr std::string_view op = "scale_inplace";
  const int64_t n = a.numel();
  cpu::dispatch_float(op, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* x = a.data<T>();
    const T factor = static_cast<T>(s);
#pragma omp parallel for schedule(static) if (n > cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) x[i] *= factor;
  });
}

// Fixed-size chunks summed in chunk order: the result does not depend on the number of threads, so the
// global gradient norm (and clipping) is bitwise reproducible.
double sum_squares(const Tensor& a) {
  constexpr std::string_view op = "sum_squares";
  const int64_t n = a.numel();
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  cpu::dispatch_storage(op, a.dtype(), [&](auto tag) {  // bf16/f16 read straight into double
    using T = decltype(tag);
    const T* x = a.data<T>();
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t ci = 0; ci < chunks; ++ci) {
      double acc = 0.0;
      const int64_t end = std::min(n, (ci + 1) * kChunk);
#pragma omp simd reduction(+ : acc)
      for (int64_t i = ci * kChunk; i < end; ++i) {
        const double v = cpu::widen(x[i]);
        acc += v * v;
      }
      partial[ci] = acc;
    }
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace trident::ops::cpu
