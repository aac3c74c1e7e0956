#pragma once
// Final norm, the vocabulary projection (tied to wte or its own weight) and the fused softmax cross-entropy.
// Loss is the mean over the micro-batch's target tokens; padded vocabulary columns never enter it.
#include "models/activations.h"
#include "models/model_spec.h"
#include "models/norm.h"

namespace trident::models {

class LmHead {
 public:
  LmHead(ParamSet& params, const ModelSpec& spec, Param* tied_wte);

  // x (B, T, C) -> acts.logits (B*T, Vp); with targets, returns the mean loss (else 0).
  double forward(HeadActs& acts, const Tensor& x, const Tensor& targets) const;
  // dx (B, T, C) written; loss_scale multiplies the mean loss's gradient (1/accumulation steps).
  void backward(Tensor& dx, const Tensor& x, const Tensor& targets, HeadActs& acts, double loss_scale,
                Workspace& ws) const;

 private:
  Norm norm_;
  Param* weight_;
  int64_t vocab_;
};

}  // namespace trident::models
