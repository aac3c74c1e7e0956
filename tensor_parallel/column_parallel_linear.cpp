#include "tensor_parallel/column_parallel_linear.h"

#include "core/ops/ops.h"
#include "tensor_parallel/mappings.h"

namespace trident::tp {

namespace {

// The weight's row split, after checking every block splits into whole slices.
ShardSpec output_split(const std::string& name, int64_t out_features, const TpGroup& group,
                       const OutputBlocks& b) {
  const ShardSpec rows{0, group.size, group.rank, b.segments, b.sizes, b.replicas};
  const bool equal = b.sizes.empty();
  if (equal &&
      (b.segments < 1 || out_features % b.segments != 0 || (out_features / b.segments) % group.size)) {
    fail("{}: {} output features do not split into {} blocks of a multiple of {} (tensor-parallel size)",
         name, out_features, b.segments, group.size);
  }
  if (!equal) {
    int64_t total = 0;
    for (size_t k = 0; k < b.sizes.size(); ++k) {
      total += b.sizes[k];
      const int rep = rows.replicas(k);
      if (rep < 1 || group.size % rep != 0 || b.sizes[k] % (group.size / rep) != 0)
        fail(
            "{}: output block {} of {} features does not split into {} slices (tensor-parallel size {}, {} "
            "ranks per slice)",
            name, k, b.sizes[k], group.size / std::max(rep, 1), group.size, rep);
    }
    if (total != out_features)
      fail("{}: output blocks add up to {} features, not {}", name, total, out_features);
  }
  return rows;
}

}  // namespace

ColumnParallelLinear::ColumnParallelLinear(ParamSet& params, const std::string& name, int64_t in_features,
                                           int64_t out_features, bool bias, double init_std, TpGroup group,
                                           OutputBlocks blocks, bool sequence_parallel)
    : group_(group), in_features_(in_features), sequence_parallel_(sequence_parallel) {
  group.check(name.c_str());
  const ShardSpec rows = output_split(name, out_features, group, blocks);
  local_out_ = rows.local_shape({out_features, in_features})[0];
  weight_ = &params.add(name + ".weight", {out_features, in_features}, {Init::normal, 0.0, init_std}, rows);
  if (bias) bias_ = &params.add(name + ".bias", {out_features}, {Init::zeros}, rows);
  // A slice held by several ranks gets only their own share of the gradient on each.
  for (int rep : rows.block_replicas) {
    if (rep == 1) continue;
    weight_->partial = GradPartial::replicas;
    if (bias_) bias_->partial = GradPartial::replicas;
  }
}

ColumnParallelLinear::ColumnParallelLinear(Param& shared_weight, TpGroup group, bool sequence_parallel)
    : group_(group),
      in_features_(shared_weight.global_shape.at(1)),
      sequence_parallel_(sequence_parallel),
      weight_(&shared_weight) {
  group.check(shared_weight.name.c_str());
  const ShardSpec& s = shared_weight.shard;
  TRIDENT_CHECK(group.size == 1 || (s.dim == 0 && s.parts == group.size && s.index == group.rank),
                "{} is not split by rows over the {} tensor-parallel ranks", shared_weight.name, group.size);
  local_out_ = s.local_shape(shared_weight.global_shape)[0];
}

void ColumnParallelLinear::forward(Tensor& out, const Tensor& in) const {
  const Tensor b = bias_ ? bias_->value : Tensor{};
  if (!sequence_parallel_ || group_.size == 1) {
    f_forward(group_, in);
    ops::linear_forward(out, in, weight_->value, b);
    return;
  }
  // in (N/tp, in) -> all-gathered (N, in) -> out (N, out/tp).
  Tensor full = Tensor::empty({in.dim(0) * group_.size, in_features_}, in.dtype(), in.device());
  sp_gather_forward(group_, full, in);
  ops::linear_forward(out, full, weight_->value, b);
}

void ColumnParallelLinear::backward(Tensor& din, const Tensor& dout, const Tensor& in) const {
  Tensor no_bias;
  Tensor& dbias = bias_ ? bias_->grad : no_bias;
  if (!sequence_parallel_ || group_.size == 1) {
    ops::linear_backward(din, weight_->grad, dbias, dout, in, weight_->value);
    f_backward(group_, din);
    return;
  }
  // Re-gather the input rows for the weight gradient; din (N, in) partial -> reduce-scatter -> (N/tp, in).
  const int64_t N = in.dim(0) * group_.size;
  Tensor full = Tensor::empty({N, in_features_}, in.dtype(), in.device());
  sp_gather_forward(group_, full, in);
  Tensor dfull = Tensor::empty({N, in_features_}, in.dtype(), in.device());
  ops::linear_backward(dfull, weight_->grad, dbias, dout, full, weight_->value);
  sp_gather_backward(group_, din, dfull);
}

}  // namespace trident::tp
