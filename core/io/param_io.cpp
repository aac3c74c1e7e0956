#include "core/io/param_io.h"

namespace trident::io {

namespace {

const Tensor& global_tensor(const Param& p, const std::map<std::string, Tensor>& tensors,
                            const std::string& prefix) {
  auto it = tensors.find(prefix + p.name);
  if (it == tensors.end()) fail("weights have no tensor '{}'", prefix + p.name);
  if (it->second.shape() != p.global_shape) {
    fail("weight '{}' has shape {} but the model expects {}", it->first, shape_str(it->second.shape()),
         shape_str(p.global_shape));
  }
  return it->second;
}

}  // namespace

void load_params(ParamSet& params, const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  for (Param& p : params.params()) {
    TRIDENT_CHECK(p.shard.replicated(), "load_params reads unsharded parameters only ({})", p.name);
    p.value.copy_from(global_tensor(p, tensors, prefix));
  }
  for (const auto& [name, t] : tensors) {
    if (name.rfind(prefix, 0) == 0 && params.find(name.substr(prefix.size())) == nullptr) {
      fail("weights hold '{}', which is not a parameter of this model", name);
    }
  }
}

void load_shards(ParamSet& params, const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  for (Param& p : params.params()) {
    const Tensor global = global_tensor(p, tensors, prefix).to(Device::cpu()).to(DType::f64);
    Tensor local = Tensor::empty(p.value.shape(), DType::f64);
    const double* src = global.data<double>();
    double* dst = local.data<double>();
    for (int64_t i = 0; i < local.numel(); ++i) dst[i] = src[p.shard.global_index(p.global_shape, i)];
    p.value.copy_from(local.to(p.value.dtype()));
  }
}

}  // namespace trident::io
