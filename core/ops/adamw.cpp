// AdamW: the one entry of the op: argument checks, then the backend.
#include <initializer_list>

#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& hp) {
  constexpr std::string_view op = "adamw_step";
  for (const Tensor* t : std::initializer_list<const Tensor*>{&param, &grad, &m, &v}) {
    TRIDENT_CHECK(
        t->dtype() != DType::bf16 && t->dtype() != DType::f16,
        "ops::adamw_step: got {}; the master weights are fp32: AdamW updates them, their "
        "gradients and moments in fp32 (core/optim/master_weights.h), never the bf16/f16 model copy",
        t->str());
  }
  checks::require_defined(op, "param", param);
  const int64_t n = param.numel();
  checks::require_numel(op, "grad", grad, n);
  checks::require_numel(op, "m", m, n);
  checks::require_numel(op, "v", v, n);
  checks::require_dtype(op, param.dtype(), {&grad, &m, &v});
  TRIDENT_CHECK(hp.step >= 1, "ops::adamw_step: step {} should count from 1", hp.step);
  TRIDENT_CHECK(0 <= hp.beta1 && hp.beta1 < 1 && 0 <= hp.beta2 && hp.beta2 < 1,
                "ops::adamw_step: betas ({}, {}) should lie in [0, 1)", hp.beta1, hp.beta2);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(param, grad, m, v)) return cuda::adamw_step(param, grad, m, v, hp);
  cpu::adamw_step(param, grad, m, v, hp);
}

}  // namespace trident::ops
