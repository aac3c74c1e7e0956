// AdamW on CUDA: stream choice and launch of adamw.cu, after the checks of core/ops/adamw.cpp.
#include <cmath>

#include "core/ops/cuda/adamw_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& hp) {
  constexpr std::string_view op = "adamw_step";
  const int64_t n = param.numel();
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
