#pragma once
// An MoE layer in place of a block's MLP: the router picks each token's top-k experts, the dispatcher
// permutes the kept assignments into rows grouped by expert (a stable sort of (expert, slot)), the experts
// run as GEMMs over their contiguous rows, and the combine un-permutes their outputs and sums them with their
// gates. A token whose assignments were all dropped gets 0 here and keeps its residual. Shared (always-on)
// experts are a plain MLP beside this layer (models/block.h).
#include <string>
#include <vector>

#include "moe/experts.h"
#include "moe/router.h"
#include "moe/token_exchange.h"

namespace trident::moe {

// Where an MoE layer's time goes, forward and backward together, summed over its calls: for the routing
// overhead (router + permutation + all-to-all) as a share of the layer.
struct MoeTimes {
  double router_s = 0;    // logits, softmax, top-k, capacity, auxiliary losses; their backward
  double permute_s = 0;   // gathers and scatters of rows, gates
  double exchange_s = 0;  // expert parallelism's all-to-alls
  double experts_s = 0;   // the experts' GEMMs and activations
  double total() const { return router_s + permute_s + exchange_s + experts_s; }
  MoeTimes& operator+=(const MoeTimes& o) {
    router_s += o.router_s, permute_s += o.permute_s, exchange_s += o.exchange_s, experts_s += o.experts_s;
    return *this;
  }
};

class MoeLayer {
 public:
  // With expert parallelism (ep.size > 1) each rank holds num_experts / ep.size experts, registered in
  // expert_params (whose gradients are reduced over the expert-data-parallel group), and exchanges tokens
  // with the ep group (moe/token_exchange.h); otherwise every expert is registered in params.
  MoeLayer(ParamSet& params, ParamSet& expert_params, const std::string& name, const MoeSpec& spec,
           int64_t d_model, bool gpt2, double init_std, double proj_std, tp::TpGroup group,
           bool sequence_parallel, ExpertGroup ep = {});

  // x (R, C) -> y (R, C), written.
  void forward(MoeActs& acts, Tensor& y, const Tensor& x) const;
  // dy (R, C) -> dx (R, C), written; parameter gradients accumulated. loss_scale: what the objective was
  // scaled by in this backward (1/m with m micro-batches, times the fp16 loss scale), for the auxiliary
  // losses.
  void backward(Tensor& dx, const Tensor& dy, const MoeActs& acts, double loss_scale) const;

  const MoeSpec& spec() const { return spec_; }
  const MoeTimes& times() const { return times_; }

 private:
  MoeSpec spec_;
  ExpertGroup ep_;
  Router router_;
  Experts experts_;
  // Backward scratch, shared by the micro-batches (backward runs one at a time).
  mutable MoeTimes times_;
  mutable Tensor xp_, yl_, dyp_, dyl_, dxl_, dxp_, dh_, da_, dgate_, drouter_;
};

}  // namespace trident::moe
