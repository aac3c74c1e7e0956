#pragma once
// The experts of an MoE layer, stacked: num_experts MLPs of the model's kind (GPT-2: fc -> GELU -> proj with
// biases; LLaMA: gate_up -> SwiGLU -> down), each weight held as one (E, out, in) parameter. Forward and
// backward run over permuted rows grouped by expert: expert e's rows [offset[e], offset[e + 1]) go through
// its two GEMMs; the activation runs over all rows at once. An expert that receives no row computes nothing,
// and its gradient stays exactly zero.
#include <string>
#include <vector>

#include "core/tensor/param_set.h"

namespace trident::moe {

class Experts {
 public:
  // partial_over_tp: each tensor-parallel rank feeds its own rows (sequence parallelism), so the gradients
  // are partial sums over tp. ep_size, ep_rank: this rank holds experts [ep_rank * E / ep_size,
  // (ep_rank + 1) * E / ep_size) of the num_experts (E), each parameter its slice along dim 0 of the (E, ...)
  // global tensor.
  Experts(ParamSet& params, const std::string& name, int num_experts, int64_t d_model, int64_t d_ff,
          bool gpt2, double init_std, double proj_std, bool partial_over_tp, int ep_size = 1,
          int ep_rank = 0);

  // x (M, C) -> h (M, F | 2F), a (M, F), y (M, C), all written.
  void forward(Tensor& h, Tensor& a, Tensor& y, const Tensor& x, const std::vector<int64_t>& offset) const;
  // dy (M, C) -> dx (M, C) written; weight gradients accumulated; dh, da are scratch of h's and a's shapes.
  void backward(Tensor& dx, Tensor& dh, Tensor& da, const Tensor& dy, const Tensor& x, const Tensor& h,
                const Tensor& a, const std::vector<int64_t>& offset) const;

  int num_experts() const { return num_experts_; }  // on this rank
  int64_t hidden() const { return d_ff_; }
  int64_t up_width() const { return swiglu_ ? 2 * d_ff_ : d_ff_; }  // h's columns

 private:
  int num_experts_;
  int64_t d_model_, d_ff_;
  bool swiglu_;
  Param* up_w_;              // (E, F | 2F, C)
  Param* up_b_ = nullptr;    // (E, F)
  Param* down_w_;            // (E, C, F)
  Param* down_b_ = nullptr;  // (E, C)
};

}  // namespace trident::moe
