// AdamW on CUDA: the Tensor entry point of core/ops/cuda/adamw.cu.
#include <cmath>
#include <initializer_list>

#include "core/ops/cuda/adamw_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& hp) {
  constexpr std::string_view op = "adamw_step";
  for (const Tensor* t : std::initializer_list<const Tensor*>{&param, &grad, &m, &v}) {
    TRIDENT_CHECK(
        t->dtype() != DType::bf16 && t->dtype() != DType::f16,
        "ops::adamw_step: got {}; the master weights are fp32: AdamW updates them, their "
        "gradients and moments in fp32 (core/optim/master_weights.h), never the bf16/f16 model copy",
        t->str());
  }
  require_defined(op, "param", param);
  const int64_t n = param.numel();
  require_numel(op, "grad", grad, n);
  require_numel(op, "m", m, n);
  require_numel(op, "v", v, n);
  require_dtype(op, param.dtype(), {&grad, &m, &v});
  TRIDENT_CHECK(hp.step >= 1, "ops::adamw_step: step {} should count from 1", hp.step);
  TRIDENT_CHECK(0 <= hp.beta1 && hp.beta1 < 1 && 0 <= hp.beta2 && hp.beta2 < 1,
                "ops::adamw_step: betas ({}, {}) should lie in [0, 1)", hp.beta1, hp.beta2);
  const cudaStream_t stream = stream_for(op, {&param, &grad, &m, &v});
  // f64 is the CPU reference's; on a GPU the buffers are the f32 master copy.
  require_dtype(op, DType::f32, {&param});

  // Scalars in double, as PyTorch computes them in Python before the tensor kernels see them.
  const double bias_correction1 = 1.0 - std::pow(hp.beta1, static_cast<double>(hp.step));
  const double bias_correction2 = 1.0 - std::pow(hp.beta2, static_cast<double>(hp.step));
  AdamWScalars s;
  s.decay = static_cast<float>(1.0 - hp.lr * hp.weight_decay);
  s.w1 = static_cast<float>(1.0 - hp.beta1);
  s.beta2 = static_cast<float>(hp.beta2);
  s.w2 = static_cast<float>(1.0 - hp.beta2);
  s.step_size = static_cast<float>(hp.lr / bias_correction1);
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.eps = static_cast<float>(hp.eps);
  s.lerp_from_start = 1.0 - hp.beta1 < 0.5;  // torch.lerp switches formula at weight 0.5
  TRIDENT_CUDA_CHECK(
      launch_adamw(param.data<float>(), grad.data<float>(), m.data<float>(), v.data<float>(), n, s, stream));
}

}  // namespace trident::ops::cuda
