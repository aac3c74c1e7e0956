#pragma once
// Causal self-attention with grouped-query heads: a fused column-parallel qkv projection (heads split over
// tp), RoPE on q and k for LLaMA, causal attention, and a row-parallel output projection.
#include <string>

#include "models/activations.h"
#include "models/model_spec.h"
#include "tensor_parallel/column_parallel_linear.h"
#include "tensor_parallel/row_parallel_linear.h"

namespace trident::models {

class CausalSelfAttention {
 public:
  CausalSelfAttention(ParamSet& params, const std::string& name, const ModelSpec& spec, tp::TpGroup group);

  // x (B, T, C) -> y (B, T, C)
  void forward(AttentionActs& acts, Tensor& y, const Tensor& x, Workspace& ws) const;
  // dx (B, T, C) written from dy (B, T, C); x is the forward input.
  void backward(Tensor& dx, const Tensor& dy, const Tensor& x, const AttentionActs& acts,
                Workspace& ws) const;

 private:
  bool rope_;
  double rope_theta_;
  int64_t heads_, kv_heads_, head_dim_;  // local to this tp rank
  tp::ColumnParallelLinear qkv_;
  tp::RowParallelLinear proj_;
};

}  // namespace trident::models
