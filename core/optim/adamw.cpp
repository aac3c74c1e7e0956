#include "core/optim/adamw.h"

#include <cmath>

#include "core/ops/ops.h"

namespace trident {

AdamW::AdamW(ParamSet& params, AdamWConfig cfg) : params_(params), cfg_(cfg) {
  TRIDENT_CHECK(params.finalized(), "AdamW needs finalized parameters");
  // Over the whole flat buffer, padding included (it stays zero: zero gradient, zero update).
  m_ = Tensor::zeros({params.flat_params().numel()}, DType::f32, params.flat_params().device());
  v_ = Tensor::zeros({params.flat_params().numel()}, DType::f32, params.flat_params().device());
}

void AdamW::step(double lr) {
  ++step_;
  // One fused update per run of neighbouring parameters that share a weight decay (in flat-buffer order,
  // which is the reverse of registration order): a handful of launches on a GPU rather than one per tensor.
  const auto& ps = params_.params();
  for (size_t end = ps.size(); end > 0;) {
    size_t begin = end - 1;
    while (begin > 0 && ps[begin - 1].weight_decay == ps[end - 1].weight_decay) --begin;
    const int64_t offset = ps[end - 1].flat_offset;
    const int64_t n = ps[begin].flat_offset + ps[begin].value.numel() - offset;
    Tensor value = params_.flat_params().flat(offset, {n});
    Tensor m = m_.flat(offset, {n});
    Tensor v = v_.flat(offset, {n});
    const ops::AdamWParams hp{
        lr, cfg_.beta1, cfg_.beta2, cfg_.eps, ps[begin].weight_decay ? cfg_.weight_decay : 0.0, step_};
    ops::adamw_step(value, params_.flat_grads().flat(offset, {n}), m, v, hp);
    end = begin;
  }
}

void AdamW::set_steps_taken(int64_t steps) {
  TRIDENT_CHECK(steps >= 0, "AdamW step count {} must be >= 0", steps);
  step_ = steps;
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
