#include "core/optim/adamw.h"

#include <cmath>

#include "core/ops/ops.h"

namespace trident {

AdamW::AdamW(ParamSet& params, AdamWConfig cfg) : params_(params), cfg_(cfg) {
  TRIDENT_CHECK(params.finalized(), "AdamW needs finalized parameters");
  m_ = Tensor::zeros({params.numel()}, DType::f32);
  v_ = Tensor::zeros({params.numel()}, DType::f32);
}

void AdamW::step(double lr) {
  ++step_;
  for (Param& p : params_.params()) {
    const int64_t n = p.value.numel();
    Tensor value = params_.flat_params().flat(p.flat_offset, {n});
    Tensor m = m_.flat(p.flat_offset, {n});
    Tensor v = v_.flat(p.flat_offset, {n});
    const ops::AdamWParams hp{
        lr, cfg_.beta1, cfg_.beta2, cfg_.eps, p.weight_decay ? cfg_.weight_decay : 0.0, step_};
    ops::adamw_step(value, params_.flat_grads().flat(p.flat_offset, {n}), m, v, hp);
  }
}

double grad_norm(ParamSet& params) {
  return std::sqrt(ops::sum_squares(params.flat_grads()));
}

double clip_grad_norm(ParamSet& params, double max_norm) {
  const double norm = grad_norm(params);
  clip_grads(params, norm, max_norm);
  return norm;
}

void clip_grads(ParamSet& params, double norm, double max_norm) {
  if (max_norm > 0.0 && norm > max_norm) ops::scale_inplace(params.flat_grads(), max_norm / (norm + 1e-6));
}

}  // namespace trident
