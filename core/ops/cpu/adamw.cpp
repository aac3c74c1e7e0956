// The AdamW kernel on CPU, with torch.optim.AdamW semantics (single-tensor path), in the order PyTorch
// computes it.
#include <cmath>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

template <typename T>
void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, const AdamWParams& hp) {
  // Scalars in double, as PyTorch computes them in Python before the tensor kernels see them.
  const T decay = static_cast<T>(1.0 - hp.lr * hp.weight_decay);
  const T w1 = static_cast<T>(1.0 - hp.beta1);  // m.lerp_(g, 1 - beta1)
  const T b2 = static_cast<T>(hp.beta2);
  const T w2 = static_cast<T>(1.0 - hp.beta2);
  const double bias_correction1 = 1.0 - std::pow(hp.beta1, static_cast<double>(hp.step));
  const double bias_correction2 = 1.0 - std::pow(hp.beta2, static_cast<double>(hp.step));
  const T step_size = static_cast<T>(hp.lr / bias_correction1);
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T eps = static_cast<T>(hp.eps);
  const bool lerp_from_start = 1.0 - hp.beta1 < 0.5;  // torch.lerp switches formula at weight 0.5
#pragma omp parallel for schedule(static) if (n > cpu::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    p[i] *= decay;  // decoupled weight decay comes first
    m[i] = lerp_from_start ? m[i] + w1 * (g[i] - m[i]) : g[i] - (g[i] - m[i]) * (T(1) - w1);
    v[i] = v[i] * b2 + w2 * g[i] * g[i];
    const T denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;
    p[i] += -step_size * (m[i] / denom);  // addcdiv_(m, denom, value=-step_size)
  }
}

}  // namespace

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& hp) {
  constexpr std::string_view op = "adamw_step";
  const int64_t n = param.numel();
  cpu::dispatch_float(op, param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adamw_kernel<T>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), n, hp);
  });
}

}  // namespace trident::ops::cpu
