#pragma once
// AdamW over a ParamSet's flat buffers: fp32 moments m and v in flat buffers of the same layout, weight decay
// on matrices and embeddings only (Param::weight_decay), and clipping by the global gradient norm.
#include <cstdint>

#include "core/tensor/param_set.h"

namespace trident {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
};

class AdamW {
 public:
  AdamW(ParamSet& params, AdamWConfig cfg);

  // One update with learning rate lr; `step_` counts updates from 1 for the bias corrections.
  void step(double lr);
  int64_t steps_taken() const { return step_; }
  void set_steps_taken(int64_t steps);  // a resumed run continues the bias corrections
  Tensor& exp_avg() { return m_; }
  Tensor& exp_avg_sq() { return v_; }

 private:
  ParamSet& params_;
  AdamWConfig cfg_;
  Tensor m_, v_;
  int64_t step_ = 0;
};

// The global L2 norm of all gradients (computed in double).
double grad_norm(ParamSet& params);
// Scales gradients by max_norm / (norm + 1e-6) when norm > max_norm (PyTorch's clip_grad_norm_); returns the
// norm before clipping. max_norm <= 0 only measures.
double clip_grad_norm(ParamSet& params, double max_norm);
// The scaling of clip_grad_norm with a norm measured elsewhere (over tensor-parallel shards).
void clip_grads(ParamSet& params, double norm, double max_norm);

}  // namespace trident
