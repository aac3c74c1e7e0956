#pragma once
// PartialGrads: the sums that make a step's gradients whole, read from what each parameter declares
// (Param::partial, Param::tied) — Megatron's finalize_model_grads, in one place:
//   GradPartial::tensor    over the tensor-parallel group (norms and wpe under sequence parallelism);
//   GradPartial::replicas  each replicated block over the ranks holding it (key/value heads shared by
//                          several tp ranks), on sub-groups of the tp group split from the ShardSpecs;
//   Param::tied            between the first and the last pipeline stage (a tied embedding's two copies).
// One coalesced all-reduce per group and step. All three are sums of linear contributions, so they commute
// with the data-parallel average and with each other.
#include <memory>
#include <vector>

#include "core/comm/communicator.h"
#include "core/tensor/param_set.h"
#include "tensor_parallel/tp_group.h"

namespace trident::zero {

class PartialGrads {
 public:
  // Every rank of tp constructs it together for the same layout of `params` (it may split tp into replica
  // groups). embedding: the first + last stage group of a tied model split into stages, or null.
  PartialGrads(const ParamSet& params, tp::TpGroup tp, comm::Communicator* embedding = nullptr);

  // Sums the declared parts of `grads_of`'s gradients: `params` itself, or a ParamSet of the same layout
  // (its fp32 master weights).
  void sum(const ParamSet& grads_of) const;

 private:
  struct Range {  // flat gradient elements [begin, begin + n) of parameter `index`
    size_t index;
    int64_t begin, n;
  };
  std::vector<Range> tensor_, replicas_, tied_;
  tp::TpGroup tp_;
  std::unique_ptr<comm::Communicator> replica_group_;
  comm::Communicator* embedding_;
};

}  // namespace trident::zero
