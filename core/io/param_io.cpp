#include "core/io/param_io.h"

namespace trident::io {

void load_params(ParamSet& params, const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  for (Param& p : params.params()) {
    TRIDENT_CHECK(p.shard.replicated(), "load_params reads unsharded parameters only ({})", p.name);
    auto it = tensors.find(prefix + p.name);
    if (it == tensors.end()) fail("weights have no tensor '{}'", prefix + p.name);
    if (it->second.shape() != p.global_shape) {
      fail("weight '{}' has shape {} but the model expects {}", it->first, shape_str(it->second.shape()),
           shape_str(p.global_shape));
    }
    p.value.copy_from(it->second);
  }
  for (const auto& [name, t] : tensors) {
    if (name.rfind(prefix, 0) == 0 && params.find(name.substr(prefix.size())) == nullptr) {
      fail("weights hold '{}', which is not a parameter of this model", name);
    }
  }
}

}  // namespace trident::io
