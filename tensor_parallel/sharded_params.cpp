#include "tensor_parallel/sharded_params.h"

#include "core/ops/ops.h"

namespace trident::tp {

namespace {

// The squared gradient of one parameter's shard, each block weighted by 1 / (ranks holding it).
double weighted_squares(const Param& p, int tp) {
  if (p.shard.replicated()) return ops::sum_squares(p.grad) / tp;
  if (p.shard.block_replicas.empty()) return ops::sum_squares(p.grad);
  TRIDENT_CHECK(p.shard.dim == 0, "{}: replicated blocks are supported along dim 0 only", p.name);
  const std::vector<int64_t> blocks = p.shard.blocks(p.global_shape);
  const int64_t inner = p.grad.numel() / p.grad.dim(0);
  double sum = 0.0;
  int64_t row = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const int rep = p.shard.replicas(b);
    const int64_t rows = blocks[b] / (p.shard.parts / rep);
    sum += ops::sum_squares(p.grad.flat(row * inner, {rows * inner})) / rep;
    row += rows;
  }
  return sum;
}

}  // namespace

double grad_squares(const ParamSet& params, const TpGroup& group) {
  group.check("tensor-parallel grad norm");
  Tensor sum = Tensor::zeros({1}, DType::f64);
  for (const Param& p : params.params())
    if (!p.duplicate) sum.data<double>()[0] += weighted_squares(p, group.size);
  if (group.size > 1) group.comm->all_reduce(sum, comm::ReduceOp::sum);
  return sum.item(0);
}

Tensor gather_param(const Param& p, const TpGroup& group) {
  group.check("tensor-parallel parameter gather");
  if (p.shard.replicated() || group.size == 1) {
    Tensor out = Tensor::empty(p.global_shape, p.value.dtype());
    out.copy_from(p.value);
    return out;
  }
  TRIDENT_CHECK(p.shard.parts == group.size && p.shard.index == group.rank,
                "{} is split into {} parts (this one {}), but the tensor-parallel group is rank {} of {}",
                p.name, p.shard.parts, p.shard.index, group.rank, group.size);
  const int64_t n = p.value.numel();
  Tensor all = Tensor::empty({n * group.size}, p.value.dtype());
  group.comm->all_gather(all, p.value.view({n}));
  // Rank r's shard lands where its ShardSpec (same spec, index r) puts it; replicas write equal values.
  Tensor all64 = Tensor::empty({n * group.size}, DType::f64);
  all64.copy_from(all);
  Tensor out64 = Tensor::empty(p.global_shape, DType::f64);
  const double* src = all64.data<double>();
  double* dst = out64.data<double>();
  for (int r = 0; r < group.size; ++r) {
    ShardSpec spec = p.shard;
    spec.index = r;
    for (int64_t i = 0; i < n; ++i) dst[spec.global_index(p.global_shape, i)] = src[r * n + i];
  }
  Tensor out = Tensor::empty(p.global_shape, p.value.dtype());
  out.copy_from(out64);
  return out;
}

std::map<std::string, Tensor> gather_params(const ParamSet& params, const TpGroup& group) {
  std::map<std::string, Tensor> out;
  for (const Param& p : params.params())
    if (!p.duplicate) out[p.name] = gather_param(p, group);
  return out;
}

}  // namespace trident::tp
