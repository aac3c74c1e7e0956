#pragma once
// RowParallelLinear: Y = X A^T + b with A (out, in) split along its input columns; X arrives already split
// (the output of a ColumnParallelLinear), each rank computes a partial Y, and g sums the partials. The bias
// is replicated and added once, after g.
#include <string>

#include "core/tensor/param_set.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

class RowParallelLinear {
 public:
  RowParallelLinear(ParamSet& params, const std::string& name, int64_t in_features, int64_t out_features,
                    bool bias, double init_std, TpGroup group = {});

  int64_t local_in() const { return local_in_; }
  // in (N, in/tp) -> out (N, out)
  void forward(Tensor& out, const Tensor& in) const;
  // din (N, in/tp) written; weight/bias gradients accumulated.
  void backward(Tensor& din, const Tensor& dout, const Tensor& in) const;

 private:
  TpGroup group_;
  int64_t local_in_;
  Param* weight_;
  Param* bias_ = nullptr;
};

}  // namespace trident::tp
