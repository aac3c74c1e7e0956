#pragma once
// PartialGrads: the sums that make a step's gradients whole, read from what each parameter declares
// (Param::partial, Param::tied) — Megatron's finalize_model_grads, in one place:
//   GradPartial::tensor    over the tensor-parallel group (norms and wpe under sequence parallelism);
//   GradPartial::replicas  each replicated block over the ranks holding it (key/value heads shared by
//                          several tp ranks), on sub-groups of the tp group split from the ShardSpecs;
//   Param::tied            between the first and the last pipeline stage (a tied embedding's two copies).
// One coalesced all-reduce per group and step. All three are sums of linear contributions, so they commute
// with the data-parallel average and with each other. They run on whatever part of the flat gradient buffer
// a rank holds (a ZeRO shard, flat_layout.h): every rank of a tp group holds the same pieces of the same
// layout, so the sums line up element by element.
#include <memory>
#include <utility>
#include <vector>

#include "core/comm/communicator.h"
#include "core/tensor/param_set.h"
#include "tensor_parallel/tp_group.h"
#include "zero/flat_layout.h"

namespace trident::zero {

class PartialGrads {
 public:
  // Every rank of tp constructs it together, for params in their final flat layout (it may split tp into
  // replica groups). embedding: the first + last stage group of a tied model split into stages, or null.
  PartialGrads(const ParamSet& params, tp::TpGroup tp, comm::Communicator* embedding = nullptr);

  // Sums the declared parts of `grads`, a buffer holding the pieces of `shard` (tensor-parallel and replica
  // parts; the tied embedding too unless `tied` is false).
  void sum(const Tensor& grads, const Shard& shard, bool tied = true) const;
  // The same over a whole ParamSet of this layout (its own gradients).
  void sum(const ParamSet& grads_of) const;
  // The tied embedding's part alone, in the parameters' own gradient views (before a reduce-scatter splits
  // them: wherever the gradient path bound them).
  void sum_tied(const ParamSet& params) const;
  // Flat ranges [begin, end) of the tied embedding's copies on this chunk.
  const std::vector<std::pair<int64_t, int64_t>>& tied_ranges() const { return tied_; }

 private:
  using Ranges = std::vector<std::pair<int64_t, int64_t>>;  // flat [begin, end)
  static void sum_over(const Ranges& ranges, comm::Communicator* group, const Tensor& grads,
                       const Shard& shard);

  Ranges tensor_, replicas_, tied_;
  std::vector<size_t> tied_params_;
  tp::TpGroup tp_;
  std::unique_ptr<comm::Communicator> replica_group_;
  comm::Communicator* embedding_;
};

// The whole of a flat buffer of n elements as one shard.
Shard whole(int64_t n);

}  // namespace trident::zero
