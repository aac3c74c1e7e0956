// AdamW on CPU with torch.optim.AdamW semantics (single-tensor path), in the order PyTorch computes it.
#include <cmath>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops {
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
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(param, grad, m, v)) return cuda::adamw_step(param, grad, m, v, hp);
  constexpr std::string_view op = "adamw_step";
  cpu::require_cpu(op, {&param, &grad, &m, &v});
  for (const Tensor* t : std::initializer_list<const Tensor*>{&param, &grad, &m, &v}) {
    TRIDENT_CHECK(
        !cpu::is_low_precision(t->dtype()),
        "ops::adamw_step: got {}; the master weights are fp32: AdamW updates them, their "
        "gradients and moments in fp32 (core/optim/master_weights.h), never the bf16/f16 model copy",
        t->str());
  }
  cpu::require_defined(op, "param", param);
  const int64_t n = param.numel();
  cpu::require_numel(op, "grad", grad, n);
  cpu::require_numel(op, "m", m, n);
  cpu::require_numel(op, "v", v, n);
  cpu::require_dtype(op, param.dtype(), {&grad, &m, &v});
  TRIDENT_CHECK(hp.step >= 1, "ops::adamw_step: step {} should count from 1", hp.step);
  TRIDENT_CHECK(0 <= hp.beta1 && hp.beta1 < 1 && 0 <= hp.beta2 && hp.beta2 < 1,
                "ops::adamw_step: betas ({}, {}) should lie in [0, 1)", hp.beta1, hp.beta2);
  cpu::dispatch_float(op, param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adamw_kernel<T>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), n, hp);
  });
}

}  // namespace trident::ops
