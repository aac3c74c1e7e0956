#pragma once
// The feed-forward sub-layer: GPT-2's fc -> GELU -> proj, or LLaMA's gate_up -> SwiGLU -> down; the first
// projection is column-parallel, the second row-parallel (one all-reduce per MLP under tp).
#include <string>

#include "models/activations.h"
#include "models/model_spec.h"
#include "tensor_parallel/column_parallel_linear.h"
#include "tensor_parallel/row_parallel_linear.h"

namespace trident::models {

class Mlp {
 public:
  Mlp(ParamSet& params, const std::string& name, const ModelSpec& spec, tp::TpGroup group);

  void forward(MlpActs& acts, Tensor& y, const Tensor& x) const;  // x, y (R, C)
  void backward(Tensor& dx, const Tensor& dy, const Tensor& x, const MlpActs& acts, Workspace& ws) const;

 private:
  bool swiglu_;
  int tp_;
  int64_t hidden_;  // F / tp
  tp::ColumnParallelLinear up_;
  tp::RowParallelLinear down_;
};

}  // namespace trident::models
