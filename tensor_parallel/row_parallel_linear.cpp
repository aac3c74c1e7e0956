#include "tensor_parallel/row_parallel_linear.h"

#include "core/ops/ops.h"
#include "tensor_parallel/mappings.h"

namespace trident::tp {

RowParallelLinear::RowParallelLinear(ParamSet& params, const std::string& name, int64_t in_features,
                                     int64_t out_features, bool bias, double init_std, TpGroup group)
    : group_(group), local_in_(in_features / group.size) {
  weight_ = &params.add(name + ".weight", {out_features, in_features}, {Init::normal, 0.0, init_std},
                        {1, group.size, group.rank, 1});
  if (bias) bias_ = &params.add(name + ".bias", {out_features}, {Init::zeros});
}

void RowParallelLinear::forward(Tensor& out, const Tensor& in) const {
  // One rank holds the whole sum, so the bias goes straight into the GEMM; with tp > 1 it is added after g.
  ops::linear_forward(out, in, weight_->value, bias_ && group_.size == 1 ? bias_->value : Tensor{});
  g_forward(group_, out);
}

void RowParallelLinear::backward(Tensor& din, const Tensor& dout, const Tensor& in) const {
  g_backward(group_, dout);
  Tensor no_bias;
  ops::linear_backward(din, weight_->grad, bias_ ? bias_->grad : no_bias, dout, in, weight_->value);
}

}  // namespace trident::tp
