#pragma once
// Final norm, the vocabulary projection (tied to wte or its own weight) and the softmax cross-entropy.
// Loss is the mean over the micro-batch's target tokens; padded vocabulary columns never enter it.
//
// Under tp the projection is column-parallel over the vocabulary (the same row split as the vocab-parallel
// embedding, so tying works shard by shard), and the loss is the vocab-parallel cross-entropy: the full
// (N, Vp) logits are never gathered.
#include <vector>

#include "models/activations.h"
#include "models/model_spec.h"
#include "models/norm.h"
#include "tensor_parallel/column_parallel_linear.h"

namespace trident::models {

class LmHead {
 public:
  LmHead(ParamSet& params, const ModelSpec& spec, tp::TpGroup group, Param* tied_wte);

  // x (R, C) -> acts.logits (N, Vp/tp); with targets (N), returns the mean loss (else 0).
  double forward(HeadActs& acts, const Tensor& x, const Tensor& targets) const;
  // dx (R, C) written; loss_scale multiplies the mean loss's gradient (1/accumulation steps).
  void backward(Tensor& dx, const Tensor& x, const Tensor& targets, HeadActs& acts, double loss_scale,
                Workspace& ws) const;

 private:
  tp::TpGroup group_;
  Norm norm_;
  tp::ColumnParallelLinear proj_;
  int64_t vocab_;
};

}  // namespace trident::models
