#pragma once
// MoeSpec: the resolved mixture-of-experts numbers of a model (from config.model.moe).
#include <cmath>
#include <cstdint>

#include "core/config/trident.pb.h"

namespace trident::moe {

struct MoeSpec {
  int num_experts = 0;  // 0: a dense model
  int top_k = 2;
  int every = 1;                 // block l is an MoE block when l % every == 0 (Megatron's moe_layer_freq)
  int d_ff_expert = 0;           // each expert's hidden size
  double capacity_factor = 0.0;  // 0: dropless
  double aux_loss_coeff = 0.0, z_loss_coeff = 0.0;
  int shared_experts = 0;  // always-on experts: one dense MLP of shared_experts * d_ff_expert
  bool normalize_topk = false;

  bool enabled() const { return num_experts > 0; }
  bool is_moe_block(int layer) const { return enabled() && layer % every == 0; }
  // The most assignments one expert takes from a micro-batch of `tokens` token rows; -1: no limit.
  int64_t capacity(int64_t tokens) const {
    if (capacity_factor <= 0.0) return -1;
    return static_cast<int64_t>(
        std::ceil(capacity_factor * static_cast<double>(tokens * top_k) / num_experts));
  }

  // d_ff: the model's MLP width, the expert width when moe.d_ff_expert is 0.
  static MoeSpec from_config(const config::MoeConfig& m, int d_ff) {
    MoeSpec s;
    s.num_experts = m.num_experts();
    s.top_k = m.top_k();
    s.every = m.every();
    s.d_ff_expert = m.d_ff_expert() > 0 ? m.d_ff_expert() : d_ff;
    s.capacity_factor = m.capacity_factor();
    s.aux_loss_coeff = m.aux_loss_coeff();
    s.z_loss_coeff = m.z_loss_coeff();
    s.shared_experts = m.shared_experts();
    s.normalize_topk = m.normalize_topk();
    return s;
  }
};

}  // namespace trident::moe
