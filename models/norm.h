#pragma once
// Pre-norm for a block: LayerNorm (GPT-2, weight + bias) or RMSNorm (LLaMA, weight only), replicated on
// every tensor-parallel rank.
#include <string>

#include "core/tensor/param_set.h"
#include "models/activations.h"

namespace trident::models {

class Norm {
 public:
  Norm(ParamSet& params, const std::string& name, int64_t channels, bool layernorm, double eps);

  void forward(NormActs& acts, const Tensor& in) const;  // in (B, T, C)
  void backward(Tensor& din, const Tensor& dout, const Tensor& in, const NormActs& acts) const;

 private:
  bool layernorm_;
  double eps_;
  Param* weight_;
  Param* bias_ = nullptr;
};

}  // namespace trident::models
