#pragma once
// The router of an MoE layer: logits (R, E) = x W^T computed in fp32 (f64 in f64 models), softmax, top-k
// with gates (moe/routing.h), capacity drops, and the two auxiliary losses of the micro-batch, added to the
// objective with their coefficients:
//   load balancing (Switch, GShard): E * sum_i f_i P_i, f_i = assignments to expert i / (N k) counted before
//     drops (no gradient), P_i = the mean router probability of expert i;
//   z-loss (ST-MoE): the mean over tokens of logsumexp(logits)^2.
// Under sequence parallelism each tensor-parallel rank routes its block of the micro-batch's N rows; the
// statistics, and the capacity's routing order, are those of all N rows (one all-gather of E-sized counts).
#include <string>
#include <vector>

#include "core/tensor/param_set.h"
#include "moe/moe_acts.h"
#include "moe/moe_spec.h"
#include "tensor_parallel/tp_group.h"

namespace trident::moe {

class Router {
 public:
  // group: the tensor-parallel group, whose ranks hold the micro-batch's rows in order when
  // sequence_parallel (otherwise each rank routes all of them, the same way).
  Router(ParamSet& params, const std::string& name, int64_t d_model, const MoeSpec& spec, double init_std,
         tp::TpGroup group, bool sequence_parallel);

  // x (R, C): fills acts.routing (capacity applied, permuted), acts.router_in and the statistics.
  void forward(MoeActs& acts, const Tensor& x) const;
  // dgate (R * k): the objective's gradient w.r.t. each assignment's gate (0 for a dropped one), already
  // scaled by loss_scale like the rest of backward; the auxiliary losses enter here, times loss_scale.
  // Accumulates the router weight's gradient and writes dx (R, C) in x's dtype: the router's part of the
  // input gradient.
  void backward(Tensor& dx, const std::vector<double>& dgate, const MoeActs& acts, double loss_scale) const;

  Param& weight() const { return *weight_; }

 private:
  MoeSpec spec_;
  tp::TpGroup group_;
  bool sequence_parallel_;
  Param* weight_;
  // The weight in the compute dtype (itself when it already is).
  Tensor weight_in_stat_dtype() const;
};

}  // namespace trident::moe
