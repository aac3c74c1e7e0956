#include "core/tensor/param_set.h"

#include "core/runtime/rng.h"

namespace trident {

Shape ShardSpec::local_shape(const Shape& global) const {
  if (replicated()) return global;
  Shape s = global;
  const int64_t block = s.at(dim) / segments;
  TRIDENT_CHECK(s[dim] % segments == 0 && block % parts == 0,
                "dim {} of {} is not divisible into {} x {} parts", dim, shape_str(global), segments, parts);
  s[dim] = s[dim] / parts;
  return s;
}

int64_t ShardSpec::global_index(const Shape& global, int64_t i) const {
  if (replicated()) return i;
  const Shape local = local_shape(global);
  // Split i into (outer, d, inner) around `dim` in the local shape, remap d, recompose globally.
  int64_t inner = 1;
  for (size_t k = dim + 1; k < local.size(); ++k) inner *= local[k];
  const int64_t d_local = local[dim];
  const int64_t outer = i / (d_local * inner);
  const int64_t d = (i / inner) % d_local;
  const int64_t in = i % inner;
  const int64_t seg_local = d_local / segments;  // rows of one segment held here
  const int64_t seg_global = global[dim] / segments;
  const int64_t d_global = (d / seg_local) * seg_global + index * seg_local + d % seg_local;
  return (outer * global[dim] + d_global) * inner + in;
}

Param& ParamSet::add(const std::string& name, const Shape& global_shape, InitSpec init, ShardSpec shard) {
  TRIDENT_CHECK(!finalized(), "parameter {} registered after finalize()", name);
  TRIDENT_CHECK(find(name) == nullptr, "parameter {} registered twice", name);
  Param p{name, global_shape, shard, init, global_shape.size() >= 2, {}, {}, 0};
  params_.push_back(std::move(p));
  return params_.back();
}

void ParamSet::finalize(DType dtype) {
  numel_ = 0;
  for (const Param& p : params_) numel_ += shape_numel(p.shard.local_shape(p.global_shape));
  flat_params_ = Tensor::zeros({numel_}, dtype);
  flat_grads_ = Tensor::zeros({numel_}, dtype);
  int64_t offset = 0;
  for (auto it = params_.rbegin(); it != params_.rend(); ++it) {
    const Shape local = it->shard.local_shape(it->global_shape);
    it->flat_offset = offset;
    it->value = flat_params_.flat(offset, local);
    it->grad = flat_grads_.flat(offset, local);
    offset += shape_numel(local);
  }
}

void ParamSet::initialize(uint64_t seed) {
  TRIDENT_CHECK(finalized(), "initialize() before finalize()");
  for (Param& p : params_) {
    const int64_t n = p.value.numel();
    Tensor f = Tensor::empty(p.value.shape(), DType::f64);
    double* out = f.data<double>();
    const CounterRng rng(seed, p.name);
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) {
      switch (p.init.kind) {
        case Init::zeros:
          out[i] = 0.0;
          break;
        case Init::ones:
          out[i] = 1.0;
          break;
        case Init::normal:
          out[i] = p.init.mean + p.init.std * rng.normal(p.shard.global_index(p.global_shape, i));
      }
    }
    p.value.copy_from(f);
  }
}

Param& ParamSet::get(const std::string& name) {
  for (Param& p : params_)
    if (p.name == name) return p;
  fail("no parameter named '{}'", name);
}

const Param* ParamSet::find(const std::string& name) const {
  for (const Param& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace trident
