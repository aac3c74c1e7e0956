#pragma once
// Pre-norm for a block: LayerNorm (GPT-2, weight + bias) or RMSNorm (LLaMA, weight only), replicated on
// every tensor-parallel rank. Row-wise, so it runs on whatever rows a rank holds: under sequence parallelism
// only its block of the micro-batch, which makes its parameter gradients partial sums over tp.
#include <string>
#include <vector>

#include "core/tensor/param_set.h"
#include "models/activations.h"

namespace trident::models {

class Norm {
 public:
  Norm(ParamSet& params, const std::string& name, int64_t channels, bool layernorm, double eps);

  void forward(NormActs& acts, const Tensor& in) const;  // in (R, C)
  // residual (R, C) = x + y, then forward(acts, residual), fused into one pass on a GPU.
  void forward_residual(NormActs& acts, Tensor& residual, const Tensor& x, const Tensor& y) const;
  void backward(Tensor& din, const Tensor& dout, const Tensor& in, const NormActs& acts) const;
  // Appends the gradients of weight (and bias).
  void append_grads(std::vector<Tensor>& out) const {
    out.push_back(weight_->grad);
    if (bias_) out.push_back(bias_->grad);
  }

 private:
  bool layernorm_;
  double eps_;
  Param* weight_;
  Param* bias_ = nullptr;
};

}  // namespace trident::models
