// Row op kernels on CPU: per-row scaling and per-row dot products, the gate arithmetic of MoE token routing.
#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {

void scale_rows(Tensor& out, const Tensor& in, const Tensor& scale) {
  constexpr std::string_view op = "scale_rows";
  const int64_t m = in.dim(0), c = in.dim(1);
  const auto run = [&](auto row_tag, auto factor_tag) {
    using T = decltype(row_tag);
    using S = decltype(factor_tag);
    const T* x = in.data<T>();
    const S* s = scale.data<S>();
    T* y = out.data<T>();
#pragma omp parallel for schedule(static) if (m * c > cpu::kParallelGrain)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < c; ++j) y[r * c + j] = static_cast<T>(cpu::widen(x[r * c + j]) * s[r]);
  };
  cpu::dispatch_storage(op, in.dtype(), [&](auto tag) {
    if constexpr (std::is_same_v<decltype(tag), double>) {
      run(tag, double{});
    } else {
      run(tag, float{});
    }
  });
}

void row_dot(Tensor& out, const Tensor& a, const Tensor& b) {
  constexpr std::string_view op = "row_dot";
  const int64_t m = a.dim(0), c = a.dim(1);
  cpu::dispatch_storage(op, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = a.data<T>();
    const T* y = b.data<T>();
    const auto write = [&](auto* o) {
      using S = std::remove_pointer_t<decltype(o)>;
#pragma omp parallel for schedule(static) if (m * c > cpu::kParallelGrain)
      for (int64_t r = 0; r < m; ++r) {
        double sum = 0.0;
        for (int64_t j = 0; j < c; ++j)
          sum += static_cast<double>(cpu::widen(x[r * c + j])) * cpu::widen(y[r * c + j]);
        o[r] = static_cast<S>(sum);
      }
    };
    if (out.dtype() == DType::f64) {
      write(out.data<double>());
    } else {
      write(out.data<float>());
    }
  });
}

}  // namespace trident::ops::cpu
