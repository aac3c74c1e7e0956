#pragma once
// A pre-norm transformer block: x_mid = x + attn(norm1(x)); x_out = x_mid + mlp(norm2(x_mid)).
#include <string>

#include "models/attention.h"
#include "models/mlp.h"
#include "models/norm.h"

namespace trident::models {

class TransformerBlock {
 public:
  TransformerBlock(ParamSet& params, const std::string& name, const ModelSpec& spec, tp::TpGroup group);

  // x_in, x_out (R, C) for sequences of T tokens; x_in must stay alive until backward (it is the previous
  // block's output).
  void forward(BlockActs& acts, Tensor& x_out, const Tensor& x_in, int64_t T, Workspace& ws) const;
  // dres: in, the gradient w.r.t. x_out; out, the gradient w.r.t. x_in (updated in place).
  void backward(Tensor& dres, const Tensor& x_in, const BlockActs& acts, Workspace& ws) const;

 private:
  Norm norm1_;
  CausalSelfAttention attn_;
  Norm norm2_;
  Mlp mlp_;
};

}  // namespace trident::models
