#include "tensor_parallel/column_parallel_linear.h"

#include "core/ops/ops.h"
#include "tensor_parallel/mappings.h"

namespace trident::tp {

ColumnParallelLinear::ColumnParallelLinear(ParamSet& params, const std::string& name, int64_t in_features,
                                           int64_t out_features, bool bias, double init_std, TpGroup group,
                                           int segments, bool sequence_parallel)
    : group_(group),
      in_features_(in_features),
      local_out_(out_features / group.size),
      sequence_parallel_(sequence_parallel) {
  group.check(name.c_str());
  if (segments < 1 || out_features % segments != 0 || (out_features / segments) % group.size != 0) {
    fail("{}: {} output features do not split into {} blocks of a multiple of {} (tensor-parallel size)",
         name, out_features, segments, group.size);
  }
  const ShardSpec rows{0, group.size, group.rank, segments};
  weight_ = &params.add(name + ".weight", {out_features, in_features}, {Init::normal, 0.0, init_std}, rows);
  if (bias) bias_ = &params.add(name + ".bias", {out_features}, {Init::zeros}, rows);
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
