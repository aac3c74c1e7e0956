#include "core/optim/master_weights.h"

#include <cmath>

#include "core/ops/ops.h"

namespace trident {

MasterWeights::MasterWeights(ParamSet& model)
    : model_(model), master_(model.mirror(DType::f32, model.device())) {
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
