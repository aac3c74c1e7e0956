#include "models/mlp.h"

#include <cmath>

#include "core/ops/ops.h"

namespace trident::models {

Mlp::Mlp(ParamSet& params, const std::string& name, const ModelSpec& spec, tp::TpGroup group)
    : swiglu_(!spec.gpt2()),
      hidden_(spec.d_ff / group.size),
      up_(params, name + (spec.gpt2() ? ".fc" : ".gate_up"), spec.d_model, (spec.gpt2() ? 1 : 2) * spec.d_ff,
          spec.gpt2(), spec.init_std, group, /*segments=*/spec.gpt2() ? 1 : 2),
      down_(params, name + (spec.gpt2() ? ".proj" : ".down"), spec.d_ff, spec.d_model, spec.gpt2(),
            spec.init_std / std::sqrt(2.0 * spec.n_layer), group) {}

void Mlp::forward(MlpActs& acts, Tensor& y, const Tensor& x) const {
  const int64_t N = x.numel() / x.dim(-1), C = x.dim(-1);
  ensure(acts.h, {N, up_.local_out()}, x.dtype());
  ensure(acts.a, {N, hidden_}, x.dtype());
  up_.forward(acts.h, x.view({N, C}));
  if (swiglu_) {
    ops::swiglu_forward(acts.a, acts.h);
  } else {
    ops::gelu_forward(acts.a, acts.h);
  }
  Tensor y2 = y.view({N, C});
  down_.forward(y2, acts.a);
}

void Mlp::backward(Tensor& dx, const Tensor& dy, const Tensor& x, const MlpActs& acts, Workspace& ws) const {
  const int64_t N = x.numel() / x.dim(-1), C = x.dim(-1);
  ensure(ws.da, acts.a.shape(), x.dtype());
  ensure(ws.dh, acts.h.shape(), x.dtype());
  down_.backward(ws.da, dy.view({N, C}), acts.a);
  if (swiglu_) {
    ops::swiglu_backward(ws.dh, ws.da, acts.h);
  } else {
    ops::gelu_backward(ws.dh, ws.da, acts.h);
  }
  Tensor dx2 = dx.view({N, C});
  up_.backward(dx2, ws.dh, x.view({N, C}));
}

}  // namespace trident::models
