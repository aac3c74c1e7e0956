#pragma once
// Whole-ParamSet operations over the shards a tp group holds: the global gradient norm, with every element
// counted once however many ranks hold it, and the parameters gathered back to their global shapes (for
// model.safetensors, and for checking a sharded run against a single-rank one).
#include <map>
#include <string>

#include "core/tensor/param_set.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

// The sum over the group of each rank's squared gradients (the square of the global grad norm), each element
// weighted by 1 / (ranks holding it): a replicated parameter (ShardSpec replicated) is held by all tp ranks,
// a replicated block (ShardSpec::block_replicas) by its replicas; a Param::duplicate (counted on another
// pipeline stage) is left out. One all-reduce of one double. Identical on every rank.
double grad_squares(const ParamSet& params, const TpGroup& group);

// The parameter's full tensor: the shards all-gathered over the group, placed by ShardSpec::global_index.
// Every rank of the group must call it for the same parameter.
Tensor gather_param(const Param& p, const TpGroup& group);
// gather_param for every parameter but the duplicates (Param::duplicate), by global name.
std::map<std::string, Tensor> gather_params(const ParamSet& params, const TpGroup& group);

}  // namespace trident::tp
