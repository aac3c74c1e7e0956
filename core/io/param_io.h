#pragma once
// Moving a ParamSet's (unsharded) parameters in and out of named-tensor maps, by global name.
#include <map>
#include <string>

#include "core/tensor/param_set.h"

namespace trident::io {

// Copies tensors[prefix + name] into every parameter (converting dtype). A missing name or a shape
// mismatch is an error naming the parameter; so is a tensor under `prefix` that no parameter claims.
void load_params(ParamSet& params, const std::map<std::string, Tensor>& tensors,
                 const std::string& prefix = "");

}  // namespace trident::io
