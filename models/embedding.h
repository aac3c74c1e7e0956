#pragma once
// Token embedding wte (Vp, C), plus GPT-2's learned position embedding wpe (max_seq_len, C).
#include "core/tensor/param_set.h"
#include "models/activations.h"
#include "models/model_spec.h"

namespace trident::models {

class Embedding {
 public:
  Embedding(ParamSet& params, const ModelSpec& spec);

  Param& wte() const { return *wte_; }
  // out (B, T, C) = wte[tokens] (+ wpe[0..T)); tokens (B, T) i32.
  void forward(Tensor& out, const Tensor& tokens, Workspace& ws) const;
  void backward(const Tensor& dout, const Tensor& tokens, Workspace& ws) const;

 private:
  Param* wte_;
  Param* wpe_ = nullptr;
  int64_t max_seq_len_;
};

}  // namespace trident::models
