#pragma once
// ColumnParallelLinear: Y = X A^T + b with A (out, in) split along its output rows over the tp group, so each
// rank produces out/tp columns of Y. Fused projections (qkv, gate_up) pass `segments` so every block is split
// on its own and each rank holds a matching slice of q, k and v.
#include <string>

#include "core/tensor/param_set.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

class ColumnParallelLinear {
 public:
  ColumnParallelLinear(ParamSet& params, const std::string& name, int64_t in_features, int64_t out_features,
                       bool bias, double init_std, TpGroup group = {}, int segments = 1);

  int64_t local_out() const { return local_out_; }
  Param* bias() const { return bias_; }  // null without bias
  // in (N, in) -> out (N, out/tp)
  void forward(Tensor& out, const Tensor& in) const;
  // din (N, in) written (after f's all-reduce); weight/bias gradients accumulated.
  void backward(Tensor& din, const Tensor& dout, const Tensor& in) const;

 private:
  TpGroup group_;
  int64_t local_out_;
  Param* weight_;
  Param* bias_ = nullptr;
};

}  // namespace trident::tp
