#pragma once
// The global gradient norm over whatever part of the flat gradients a rank holds (a ZeRO shard or the whole
// buffer), with every element of the model counted once: a parameter replicated over the tensor-parallel
// group weighs 1/tp on each rank, a block replicated on k ranks (ShardSpec::block_replicas) 1/k, the last
// stage's copy of a tied embedding (Param::duplicate) nothing. The caller sums the result over the tensor-
// parallel group, the shard group and the pipeline stages.
#include <vector>

#include "core/tensor/param_set.h"
#include "zero/flat_layout.h"

namespace trident::zero {

class ShardNorm {
 public:
  // params in their final flat layout; tp: the tensor-parallel size.
  ShardNorm(const ParamSet& params, const Shard& shard, int tp);
  // This rank's weighted sum of squares of `grads`, a buffer in the shard's layout.
  double squares(const Tensor& grads) const;

 private:
  struct Segment {
    int64_t shard, n;
    double weight;
  };
  std::vector<Segment> segments_;
};

}  // namespace trident::zero
