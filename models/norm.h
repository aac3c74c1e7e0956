#pragma once
// Pre-norm for a block: LayerNorm (GPT-2, weight + bias) or RMSNorm (LLaMA, weight only), replicated on
// every tensor-parallel rank. Row-wise, so it runs on whatever rows a rank holds: under sequence parallelism
// only its block of the micro-batch, which makes its parameter gradients partial sums over tp.
#include <string>

#include "core/tensor/param_set.h"
#include "models/activations.h"

namespace trident::models {

class Norm {
 public:
  // sequence_parallel: this rank normalizes only its block of rows, so weight and bias gradients are partial
  // sums over the tensor-parallel group (declared GradPartial::tensor).
  Norm(ParamSet& params, const std::string& name, int64_t channels, bool layernorm, double eps,
       bool sequence_parallel = false);

  void forward(NormActs& acts, const Tensor& in) const;  // in (R, C)
  // residual (R, C) = x + y, then forward(acts, residual), fused into one pass on a GPU.
  void forward_residual(NormActs& acts, Tensor& residual, const Tensor& x, const Tensor& y) const;
  void backward(Tensor& din, const Tensor& dout, const Tensor& in, const NormActs& acts) const;

 private:
  bool layernorm_;
  double eps_;
  Param* weight_;
  Param* bias_ = nullptr;
};

}  // namespace trident::models
