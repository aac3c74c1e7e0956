#include "models/mlp.h"

#include <cmath>

#include "core/ops/ops.h"
#include "core/runtime/spans.h"

namespace trident::models {

Mlp::Mlp(ParamSet& params, const std::string& name, const ModelSpec& spec, tp::TpGroup group)
    : swiglu_(!spec.gpt2()),
      tp_(group.size),
      hidden_(spec.d_ff / group.size),
      up_(params, name + (spec.gpt2() ? ".fc" : ".gate_up"), spec.d_model, (spec.gpt2() ? 1 : 2) * spec.d_ff,
          spec.gpt2(), spec.init_std, group, /*segments=*/spec.gpt2() ? 1 : 2, spec.sequence_parallel),
      down_(params, name + (spec.gpt2() ? ".proj" : ".down"), spec.d_ff, spec.d_model, spec.gpt2(),
            spec.init_std / std::sqrt(2.0 * spec.n_layer), group, spec.sequence_parallel) {}

void Mlp::forward(MlpActs& acts, Tensor& y, const Tensor& x) const {
  // x, y (R, C); under sequence parallelism up_ gathers all N rows.
  const int64_t N = x.dim(0) * (up_.sequence_parallel() ? tp_ : 1);
  ensure(acts.h, {N, up_.local_out()}, x.dtype(), x.device());
  ensure(acts.a, {N, hidden_}, x.dtype(), x.device());
  // FLOPs count the GEMMs, 2mnk forward and 4mnk backward (dX and dW); the activation is memory-bound.
  const double up_flops = 2.0 * N * up_.in_features() * up_.local_out(),
               down_flops = 2.0 * N * hidden_ * y.dim(1);
  {
    spans::Span span(spans::Kind::mlp_up, spans::Phase::forward, up_flops);
    up_.forward(acts.h, x);
    if (swiglu_) {
      ops::swiglu_forward(acts.a, acts.h);
    } else {
      ops::gelu_forward(acts.a, acts.h);
    }
  }
  spans::Span span(spans::Kind::mlp_down, spans::Phase::forward, down_flops);
  down_.forward(y, acts.a);
}

void Mlp::backward(Tensor& dx, const Tensor& dy, const Tensor& x, const MlpActs& acts, Workspace& ws) const {
  ensure(ws.da, acts.a.shape(), x.dtype(), x.device());
  ensure(ws.dh, acts.h.shape(), x.dtype(), x.device());
  const int64_t N = acts.h.dim(0);
  {
    spans::Span span(spans::Kind::mlp_down, spans::Phase::backward, 4.0 * N * hidden_ * dy.dim(1));
    down_.backward(ws.da, dy, acts.a);
  }
  spans::Span span(spans::Kind::mlp_up, spans::Phase::backward,
                   4.0 * N * up_.in_features() * up_.local_out());
  if (swiglu_) {
    ops::swiglu_backward(ws.dh, ws.da, acts.h);
  } else {
    ops::gelu_backward(ws.dh, ws.da, acts.h);
  }
  up_.backward(dx, ws.dh, x);
}

}  // namespace trident::models
