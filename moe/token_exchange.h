#pragma once
// Expert parallelism's token exchange (DeepSpeed-MoE, Megatron's all-to-all dispatcher): each of the ep ranks
// of an expert-parallel group holds num_experts / ep experts, and a rank's permuted rows, grouped by global
// expert, are therefore grouped by the rank that holds their expert. Dispatch first exchanges the row counts
// (one all-to-all of num_experts numbers), then the rows (all-to-allv), and regroups the rows received by
// local expert; combine is the reverse. Backward runs the same two moves on the gradients: the gradient of a
// dispatch is a combine and vice versa.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/tensor/param_set.h"
#include "core/tensor/tensor.h"

namespace trident::moe {

// The expert-parallel group: ranks that split the experts between them.
struct ExpertGroup {
  int size = 1;
  int rank = 0;
  comm::Communicator* comm = nullptr;  // required when size > 1

  static ExpertGroup of(comm::Communicator& c) { return ExpertGroup{c.size(), c.rank(), &c}; }
};

// Who sends how many rows to whom, for one micro-batch of one MoE layer.
struct ExchangePlan {
  std::vector<int64_t> send_rows;     // (ep) rows to each rank
  std::vector<int64_t> recv_rows;     // (ep) rows from each rank
  std::vector<int64_t> local_offset;  // (E/ep + 1) the received rows grouped by local expert
  Tensor order;                       // (Mr) i32: grouped row m is received row order[m]
  Tensor inverse;                     // (Mr) i32: received row i is grouped row inverse[i]
  int64_t received() const { return local_offset.back(); }
};

// expert_offset (E + 1): this rank's permuted rows per global expert (moe/routing.h). A collective over g.
ExchangePlan plan_exchange(const std::vector<int64_t>& expert_offset, const ExpertGroup& g, Device device);

// rows (M, C) grouped by global expert -> out (Mr, C) grouped by local expert. A collective over g.
void dispatch(Tensor& out, const Tensor& rows, const ExchangePlan& plan, const ExpertGroup& g);
// rows (Mr, C) grouped by local expert -> out (M, C) in this rank's permuted order. A collective over g.
void combine(Tensor& out, const Tensor& rows, const ExchangePlan& plan, const ExpertGroup& g);

// Every parameter of `experts` (each held as this rank's slice along dim 0) at its global shape, gathered
// over g: a collective there.
std::map<std::string, Tensor> gather_experts(const ParamSet& experts, const ExpertGroup& g);

}  // namespace trident::moe
