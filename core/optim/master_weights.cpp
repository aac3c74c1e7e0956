#include "core/optim/master_weights.h"

#include <cmath>

#include "core/ops/ops.h"

namespace trident {

MasterWeights::MasterWeights(ParamSet& model) : model_(model) {
  TRIDENT_CHECK(model.finalized(), "master weights need a finalized model ParamSet");
  for (const Param& p : model.params()) {
    Param& m = master_.add(p.name, p.global_shape, p.init, p.shard);
    m.weight_decay = p.weight_decay;
    m.partial = p.partial;
    m.tied = p.tied;
    m.duplicate = p.duplicate;
  }
  master_.finalize(DType::f32, model.flat_params().device());
  // The same flat layout, padding included, so that flat buffers copy across one to one.
  std::vector<int64_t> offsets;
  for (const Param& p : model.params()) offsets.push_back(p.flat_offset);
  master_.relayout(offsets, model.flat_params().numel());
  master_.flat_params().copy_from(model.flat_params());
}

bool MasterWeights::unscale_grads(double scale) {
  Tensor& g = master_.flat_grads();
  g.copy_from(model_.flat_grads());
  if (scale != 1.0) ops::scale_inplace(g, 1.0 / scale);
  // inf or nan anywhere makes the sum of squares inf or nan; finite f32 squares cannot overflow a double.
  return std::isfinite(ops::sum_squares(g));
}

void MasterWeights::copy_to_model() {
  model_.flat_params().copy_from(master_.flat_params());
}

}  // namespace trident
