#pragma once
// ColumnParallelLinear: Y = X A^T + b with A (out, in) split along its output rows over the tp group, so each
// rank produces out/tp columns of Y. Fused projections (qkv, gate_up) pass `segments` so every block is split
// on its own and each rank holds a matching slice of every block: its local output columns are
// [block 0 slice r | block 1 slice r | ...] (ShardSpec{0, tp, r, segments}); the bias is split the same way.
//
// Entering the column-parallel region is f (identity forward, all-reduce of din backward); with
// sequence_parallel it is sp_gather instead: the input arrives as this rank's block of rows, is all-gathered
// before the GEMM (again in backward, for the weight gradient, rather than kept), and din is
// reduce-scattered.
//
// Grouped-query qkv has blocks of unequal size (q, k, v) and, with fewer key/value heads than ranks, blocks
// whose slices are shared by several ranks (OutputBlocks::replicas, ShardSpec::block_replicas). A replicated
// slice's weight gradient is partial on each of its ranks: the model sums it over those ranks once per step.
#include <string>
#include <vector>

#include "core/tensor/param_set.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

// How the output features split: `segments` equal blocks, or blocks of the given global `sizes`, each block
// cut into tp / replicas[b] slices (replicas empty: every block split over all tp ranks).
struct OutputBlocks {
  int segments = 1;
  std::vector<int64_t> sizes = {};
  std::vector<int> replicas = {};

  OutputBlocks(int segments = 1) : segments(segments) {}  // NOLINT: an int means equal segments
  OutputBlocks(std::vector<int64_t> sizes, std::vector<int> replicas)
      : sizes(std::move(sizes)), replicas(std::move(replicas)) {}
};

class ColumnParallelLinear {
 public:
  ColumnParallelLinear(ParamSet& params, const std::string& name, int64_t in_features, int64_t out_features,
                       bool bias, double init_std, TpGroup group = {}, OutputBlocks blocks = {},
                       bool sequence_parallel = false);
  // Over a weight registered elsewhere (the lm head tied to the vocab-parallel embedding's (Vp, C) rows,
  // split the same way), without bias.
  ColumnParallelLinear(Param& shared_weight, TpGroup group, bool sequence_parallel = false);

  int64_t local_out() const { return local_out_; }
  int64_t in_features() const { return in_features_; }
  bool sequence_parallel() const { return sequence_parallel_; }
  Param& weight() const { return *weight_; }
  Param* bias() const { return bias_; }  // null without bias
  // in (N, in) -> out (N, out/tp); with sequence_parallel, in is (N/tp, in), this rank's rows.
  void forward(Tensor& out, const Tensor& in) const;
  // din (same shape as in) written, after f's all-reduce (or sp_gather's reduce-scatter); weight/bias
  // gradients accumulated. dout (N, out/tp).
  void backward(Tensor& din, const Tensor& dout, const Tensor& in) const;

 private:
  TpGroup group_;
  int64_t in_features_;
  int64_t local_out_;
  bool sequence_parallel_;
  Param* weight_;
  Param* bias_ = nullptr;
};

}  // namespace trident::tp
