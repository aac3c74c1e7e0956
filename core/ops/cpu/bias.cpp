// The bias add outside a GEMM on CPU: bf16/f16 add in f32 and round once (cpu::ran_in_f32).
#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {

void add_bias(Tensor& out, const Tensor& bias) {
  if (ran_in_f32(add_bias, out, bias)) return;
  const int64_t c = bias.numel(), n = c == 0 ? 0 : out.numel() / c;
  dispatch_float("add_bias", out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* b = bias.data<T>();
#pragma omp parallel for schedule(static) if (n * c > kParallelGrain)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < c; ++j) o[i * c + j] += b[j];
  });
}

}  // namespace trident::ops::cpu
