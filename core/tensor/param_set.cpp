#include "core/tensor/param_set.h"

#include "core/runtime/rng.h"

namespace trident {

namespace {
// Zeros counted as `category` by memory accounting, unless the caller's MemoryScope already names one (a
// mirror made for master weights is optimizer state).
Tensor zeros_as(MemoryCategory category, const Shape& shape, DType dtype, Device device) {
  const MemoryScope scope(MemoryScope::current() == MemoryCategory::other ? category
                                                                          : MemoryScope::current());
  return Tensor::zeros(shape, dtype, device);
}
}  // namespace

std::vector<int64_t> ShardSpec::blocks(const Shape& global) const {
  const int64_t extent = global.at(dim);
  if (!segment_sizes.empty()) {
    int64_t total = 0;
    for (int64_t b : segment_sizes) total += b;
    TRIDENT_CHECK(total == extent, "segment sizes add up to {}, but dim {} of {} is {}", total, dim,
                  shape_str(global), extent);
    return segment_sizes;
  }
  TRIDENT_CHECK(segments >= 1 && extent % segments == 0, "dim {} of {} is not {} equal segments", dim,
                shape_str(global), segments);
  return std::vector<int64_t>(static_cast<size_t>(segments), extent / segments);
}

Shape ShardSpec::local_shape(const Shape& global) const {
  if (replicated()) return global;
  Shape s = global;
  s[dim] = 0;
  const std::vector<int64_t> sizes = blocks(global);
  TRIDENT_CHECK(block_replicas.empty() || block_replicas.size() == sizes.size(),
                "{} block replica counts for {} blocks", block_replicas.size(), sizes.size());
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int rep = replicas(k);
    TRIDENT_CHECK(rep >= 1 && parts % rep == 0 && sizes[k] % (parts / rep) == 0,
                  "a block of {} along dim {} of {} does not split into {} parts held by {} ranks each",
                  sizes[k], dim, shape_str(global), parts / std::max(rep, 1), rep);
    s[dim] += sizes[k] / (parts / rep);
  }
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
  int64_t d = (i / inner) % d_local;
  const int64_t in = i % inner;
  int64_t block_start = 0;  // global start of the block that holds local row d
  const std::vector<int64_t> sizes = blocks(global);
  for (size_t k = 0; k < sizes.size(); ++k) {
    const int rep = replicas(k);
    const int64_t held = sizes[k] / (parts / rep);  // rows of this block held here: slice index / rep
    if (d < held) return (outer * global[dim] + block_start + (index / rep) * held + d) * inner + in;
    d -= held;
    block_start += sizes[k];
  }
  TRIDENT_CHECK(false, "local index {} outside {}", i, shape_str(local));
  return -1;
}

Param& ParamSet::add(const std::string& name, const Shape& global_shape, InitSpec init, ShardSpec shard) {
  TRIDENT_CHECK(!finalized(), "parameter {} registered after finalize()", name);
  TRIDENT_CHECK(find(name) == nullptr, "parameter {} registered twice", name);
  Param& p = params_.emplace_back();
  p.name = name;
  p.global_shape = global_shape;
  p.shard = std::move(shard);
  p.init = init;
  p.weight_decay = global_shape.size() >= 2;
  return p;
}

void ParamSet::finalize(DType dtype, Device device) {
  numel_ = 0;
  for (const Param& p : params_) numel_ += shape_numel(p.shard.local_shape(p.global_shape));
  flat_params_ = zeros_as(MemoryCategory::parameters, {numel_}, dtype, device);
  flat_grads_ = zeros_as(MemoryCategory::gradients, {numel_}, dtype, device);
  flat_numel_ = numel_;
  dtype_ = dtype;
  device_ = device;
  finalized_ = true;
  int64_t offset = 0;
  for (auto it = params_.rbegin(); it != params_.rend(); ++it) {
    const Shape local = it->shard.local_shape(it->global_shape);
    it->flat_offset = offset;
    it->value = flat_params_.flat(offset, local);
    it->grad = flat_grads_.flat(offset, local);
    offset += shape_numel(local);
  }
}

void ParamSet::relayout(const std::vector<int64_t>& offsets, int64_t total) {
  TRIDENT_CHECK(finalized() && offsets.size() == params_.size(), "relayout of {} parameters with {} offsets",
                params_.size(), offsets.size());
  Tensor values = zeros_as(MemoryCategory::parameters, {total}, dtype_, device_);
  Tensor grads = zeros_as(MemoryCategory::gradients, {total}, dtype_, device_);
  int64_t end = 0;  // the previous parameter in flat order (the next one registered) ends here
  for (size_t i = params_.size(); i-- > 0;) {
    Param& p = params_[i];
    const int64_t n = p.value.numel();
    TRIDENT_CHECK(offsets[i] >= end && offsets[i] + n <= total, "{} at {} overlaps or overruns the layout",
                  p.name, offsets[i]);
    Tensor value = values.flat(offsets[i], p.value.shape());
    value.copy_from(p.value);
    p.value = value;
    p.grad = grads.flat(offsets[i], p.value.shape());
    p.flat_offset = offsets[i];
    end = offsets[i] + n;
  }
  flat_params_ = values;
  flat_grads_ = grads;
  flat_numel_ = total;
}

void ParamSet::drop_values() {
  flat_params_ = Tensor{};
  for (Param& p : params_) p.value = Tensor{};
}

void ParamSet::drop_grads() {
  flat_grads_ = Tensor{};
  for (Param& p : params_) p.grad = Tensor{};
}

ParamSet ParamSet::mirror(DType dtype, Device device) const {
  TRIDENT_CHECK(finalized(), "mirror of unfinalized parameters");
  ParamSet out;
  std::vector<int64_t> offsets;
  for (const Param& p : params_) {
    Param& m = out.add(p.name, p.global_shape, p.init, p.shard);
    m.weight_decay = p.weight_decay;
    m.partial = p.partial;
    m.tied = p.tied;
    m.duplicate = p.duplicate;
    m.shared = p.shared;
    offsets.push_back(p.flat_offset);
  }
  out.finalize(dtype, device);
  out.relayout(offsets, flat_numel_);
  return out;
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
