#pragma once
// Token routing on the host: from router logits to each token's top-k experts and gates, the capacity drops,
// and the permutation that groups the kept assignments by expert. The router's outputs are small (R x E per
// MoE layer); the all-to-all needs their counts on the host anyway, as Megatron's dispatcher does.
//
// An assignment is one (token t, choice j) pair, j < top_k; its slot is t * top_k + j. Routing order, which
// decides what a full expert drops, is slot order: token by token, each token's choices by descending
// probability.
#include <cstdint>
#include <vector>

#include "moe/moe_spec.h"

namespace trident::moe {

struct Routing {
  int64_t tokens = 0;  // R: the token rows routed here
  int num_experts = 0, top_k = 0;
  std::vector<double> probs;    // (R, E) softmax of the logits
  std::vector<double> lse;      // (R) logsumexp of the logits (the z-loss)
  std::vector<int32_t> expert;  // (R, k) each token's experts, by descending probability (ties: lower index)
  std::vector<double> gate;     // (R, k) their gates (renormalised over the k when normalize_topk)
  std::vector<uint8_t> kept;    // (R, k) 0: dropped for capacity
  std::vector<int64_t> counts;  // (E) assignments per expert before drops

  // The kept assignments grouped by expert (stable: slot order within an expert): permuted row m holds slot
  // slot_of_row[m] of token token_of_row[m]; expert e owns rows [expert_offset[e], expert_offset[e + 1]).
  std::vector<int64_t> expert_offset;  // (E + 1)
  std::vector<int32_t> token_of_row;   // (M)
  std::vector<int64_t> slot_of_row;    // (M)

  int64_t rows() const { return static_cast<int64_t>(token_of_row.size()); }
  int64_t dropped() const { return tokens * top_k - rows(); }
};

// Softmax, log-sum-exp, top-k, gates and counts of logits (R, E), row-major. Drops nothing yet.
Routing route(const std::vector<double>& logits, int64_t tokens, const MoeSpec& spec);

// Capacity: an assignment is kept when fewer than `capacity` assignments of its expert come before it in
// routing order; `earlier[e]` counts those of expert e on the ranks holding the micro-batch's earlier rows
// (sequence parallelism), empty when this rank holds them all. capacity < 0 keeps everything.
void apply_capacity(Routing& r, int64_t capacity, const std::vector<int64_t>& earlier = {});

// Groups the kept assignments by expert (expert_offset, token_of_row, slot_of_row).
void permute(Routing& r);

}  // namespace trident::moe
