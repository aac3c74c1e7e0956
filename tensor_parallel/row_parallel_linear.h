#pragma once
// RowParallelLinear: Y = X A^T + b with A (out, in) split along its input columns (ShardSpec{1, tp, r}); X
// arrives already split (the output of a ColumnParallelLinear), each rank computes a partial Y, and g sums
// the partials (all-reduce). The bias is replicated and added once, after g; every rank accumulates the full
// bias gradient (identical on every rank).
//
// With sequence_parallel, sp_scatter replaces g: the partials are reduce-scattered, so each rank's output is
// its block of rows (N/tp, out) (layout in mappings.h), and in backward dout (N/tp, out) is all-gathered.
#include <string>

#include "core/tensor/param_set.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

class RowParallelLinear {
 public:
  RowParallelLinear(ParamSet& params, const std::string& name, int64_t in_features, int64_t out_features,
                    bool bias, double init_std, TpGroup group = {}, bool sequence_parallel = false);

  int64_t local_in() const { return local_in_; }
  bool sequence_parallel() const { return sequence_parallel_; }
  Param& weight() const { return *weight_; }
  Param* bias() const { return bias_; }  // null without bias
  // in (N, in/tp) -> out (N, out); with sequence_parallel, out is (N/tp, out), this rank's rows.
  void forward(Tensor& out, const Tensor& in) const;
  // din (N, in/tp) written; weight/bias gradients accumulated. dout has out's shape.
  void backward(Tensor& din, const Tensor& dout, const Tensor& in) const;

 private:
  TpGroup group_;
  int64_t out_features_;
  int64_t local_in_;
  bool sequence_parallel_;
  Param* weight_;
  Param* bias_ = nullptr;
};

}  // namespace trident::tp
