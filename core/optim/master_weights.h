#pragma once
// fp32 master weights for a model stored in bf16 or fp16 (mixed precision, Micikevicius et al. 2018): the
// model computes with its low-precision parameters and writes low-precision gradients; the optimizer works
// on an fp32 copy with the same flat layout (a mirror ParamSet: same names, shapes and ShardSpecs), so AdamW,
// clipping and the grad norm run unchanged on it, in fp32.
//
// A step: unscale_grads(loss scale) -> (found no inf) clip + AdamW on master() -> copy_to_model().
#include "core/tensor/param_set.h"

namespace trident {

class MasterWeights {
 public:
  // Copies the model's current parameters (exactly: bf16 and fp16 widen to fp32 without rounding).
  explicit MasterWeights(ParamSet& model);

  ParamSet& master() { return master_; }
  // master grads (f32) = model grads / scale. Returns false if any is inf or nan (an overflowed fp16
  // backward); the master gradients are then garbage and the step must be skipped.
  bool unscale_grads(double scale);
  // model params = master params rounded to the model's dtype (nearest even).
  void copy_to_model();

 private:
  ParamSet& model_;
  ParamSet master_;
};

}  // namespace trident
