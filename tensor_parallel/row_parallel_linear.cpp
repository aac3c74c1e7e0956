#include "tensor_parallel/row_parallel_linear.h"

#include "core/ops/ops.h"
#include "tensor_parallel/mappings.h"

namespace trident::tp {

RowParallelLinear::RowParallelLinear(ParamSet& params, const std::string& name, int64_t in_features,
                                     int64_t out_features, bool bias, double init_std, TpGroup group,
                                     bool sequence_parallel)
    : group_(group),
      out_features_(out_features),
      local_in_(in_features / group.size),
      sequence_parallel_(sequence_parallel) {
  group.check(name.c_str());
  if (in_features % group.size != 0)
    fail("{}: {} input features do not split over {} tensor-parallel ranks", name, in_features, group.size);
  weight_ = &params.add(name + ".weight", {out_features, in_features}, {Init::normal, 0.0, init_std},
                        {1, group.size, group.rank, 1});
  if (bias) bias_ = &params.add(name + ".bias", {out_features}, {Init::zeros});
}

void RowParallelLinear::forward(Tensor& out, const Tensor& in) const {
  if (group_.size == 1) {
    // One rank holds the whole sum, so the bias goes straight into the GEMM.
    ops::linear_forward(out, in, weight_->value, bias_ ? bias_->value : Tensor{});
    return;
  }
  if (!sequence_parallel_) {
    ops::linear_forward(out, in, weight_->value, Tensor{});
    g_forward(group_, out);
  } else {
    // Partial (N, out) -> reduce-scatter -> this rank's rows (N/tp, out).
    Tensor partial = Tensor::empty({in.dim(0), out_features_}, in.dtype(), in.device());
    ops::linear_forward(partial, in, weight_->value, Tensor{});
    sp_scatter_forward(group_, out, partial);
  }
  if (bias_) ops::add_bias(out, bias_->value);  // after the sum, so it is added once
}

void RowParallelLinear::backward(Tensor& din, const Tensor& dout, const Tensor& in) const {
  Tensor no_bias;
  Tensor& dbias = bias_ ? bias_->grad : no_bias;
  if (!sequence_parallel_ || group_.size == 1) {
    g_backward(group_, dout);
    ops::linear_backward(din, weight_->grad, dbias, dout, in, weight_->value);
    return;
  }
  // dout (N/tp, out) -> all-gathered (N, out); the bias gradient then sums every row, as without sp.
  Tensor full = Tensor::empty({in.dim(0), out_features_}, dout.dtype(), dout.device());
  sp_scatter_backward(group_, full, dout);
  ops::linear_backward(din, weight_->grad, dbias, full, in, weight_->value);
}

}  // namespace trident::tp
