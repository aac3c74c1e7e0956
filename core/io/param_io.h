#pragma once
// Moving a ParamSet's parameters in and out of named-tensor maps of GLOBAL tensors, by global name.
#include <map>
#include <string>

#include "core/tensor/param_set.h"

namespace trident::io {

// Copies tensors[prefix + name] into every parameter (converting dtype). A missing name or a shape
// mismatch is an error naming the parameter; so is a tensor under `prefix` that no parameter claims.
void load_params(ParamSet& params, const std::map<std::string, Tensor>& tensors,
                 const std::string& prefix = "");

// Copies this rank's shard of every parameter out of the global tensors[prefix + name], cut as its ShardSpec
// says (tensor-parallel slices, replicated key/value blocks). Every parameter must be there at its global
// shape; tensors that no parameter of this set claims (other pipeline stages) are left alone.
void load_shards(ParamSet& params, const std::map<std::string, Tensor>& tensors,
                 const std::string& prefix = "");

}  // namespace trident::io
