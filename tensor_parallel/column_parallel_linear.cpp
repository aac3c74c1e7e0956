#include "tensor_parallel/column_parallel_linear.h"

#include "core/ops/ops.h"
#include "tensor_parallel/mappings.h"

namespace trident::tp {

ColumnParallelLinear::ColumnParallelLinear(ParamSet& params, const std::string& name, int64_t in_features,
                                           int64_t out_features, bool bias, double init_std, TpGroup group,
                                           int segments)
    : group_(group), local_out_(out_features / group.size) {
  const ShardSpec rows{0, group.size, group.rank, segments};
  weight_ = &params.add(name + ".weight", {out_features, in_features}, {Init::normal, 0.0, init_std}, rows);
  if (bias) bias_ = &params.add(name + ".bias", {out_features}, {Init::zeros}, rows);
}

void ColumnParallelLinear::forward(Tensor& out, const Tensor& in) const {
  ops::linear_forward(out, in, weight_->value, bias_ ? bias_->value : Tensor{});
}

void ColumnParallelLinear::backward(Tensor& din, const Tensor& dout, const Tensor& in) const {
  Tensor no_bias;
  ops::linear_backward(din, weight_->grad, bias_ ? bias_->grad : no_bias, dout, in, weight_->value);
  f_backward(group_, din);
}

}  // namespace trident::tp
