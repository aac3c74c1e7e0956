#pragma once
// What an MoE layer saves in forward for its backward, per micro-batch, and the micro-batch's routing
// statistics. Shapes: R = the token rows this rank routes (N, or N/tp under sequence parallelism); M = the
// kept assignments, grouped by expert; F = d_ff_expert.
#include <cstdint>
#include <vector>

#include "core/tensor/tensor.h"
#include "moe/routing.h"
#include "moe/token_exchange.h"

namespace trident::moe {

struct MoeActs {
  Routing routing;   // host: probabilities, choices, gates, drops, permutation
  Tensor router_in;  // (R, C) the input in the router's dtype (f32; f64 for f64 models)
  Tensor rows;       // (M) i32 the token row of each permuted row
  Tensor gates;      // (M) f32 (f64) the gate of each permuted row
  // Expert parallelism: who sent which rows to this rank's experts. Mr: the rows they received (M without).
  ExchangePlan exchange;
  Tensor xp;  // (Mr, C) the experts' inputs, grouped by (this rank's) expert
  Tensor h;   // (Mr, F) for GELU, (Mr, 2F) [gate | up] for SwiGLU: the experts' pre-activations
  Tensor a;   // (Mr, F) activations
  Tensor yp;  // (M, C) the experts' outputs for this rank's permuted rows, before their gates

  // Over the whole micro-batch (all ranks of the sequence-parallel group):
  int64_t stat_tokens = 0;                 // N
  std::vector<double> counts;              // (E) assignments per expert before drops
  std::vector<int64_t> tokens_per_expert;  // (E) assignments kept
  int64_t assignments = 0, dropped = 0;
  double aux_loss = 0.0;  // aux_loss_coeff * E * sum_i f_i P_i
  double z_loss = 0.0;    // z_loss_coeff * mean(logsumexp(logits)^2)
};

}  // namespace trident::moe
