#pragma once
// Causal self-attention with grouped-query heads: a fused column-parallel qkv projection (heads split over
// tp), RoPE on q and k for LLaMA, causal attention, and a row-parallel output projection.
//
// Rank r of tp holds query heads [r*H/tp, (r+1)*H/tp). With n_kv_head >= tp it holds n_kv_head/tp key/value
// heads; with fewer kv heads than ranks, the tp / n_kv_head consecutive ranks whose query heads share one
// kv head all hold that head (Megatron's replication), and its gradient is summed over them once per step
// (the qkv parameters declare GradPartial::replicas; zero/partial_grads.h sums them).
#include <string>
#include <vector>

#include "models/activations.h"
#include "models/kv_cache.h"
#include "models/model_spec.h"
#include "tensor_parallel/column_parallel_linear.h"
#include "tensor_parallel/row_parallel_linear.h"

namespace trident::models {

class CausalSelfAttention {
 public:
  CausalSelfAttention(ParamSet& params, const std::string& name, const ModelSpec& spec, tp::TpGroup group);

  // Ranks holding the same key/value head: 1, or tp / n_kv_head when there are fewer kv heads than ranks.
  static int kv_replicas(const ModelSpec& spec, int tp);

  // x (R, C) -> y (R, C), for a micro-batch of sequences of T tokens.
  void forward(AttentionActs& acts, Tensor& y, const Tensor& x, int64_t T) const;
  // Incremental decoding of one sequence (tp 1): x (T, C), the rows of positions [pos0, pos0 + T), -> y
  // (T, C). Their keys and values go into `cache`. A prefill (pos0 0) runs the causal attention of forward()
  // on its T rows; after it, one row at a time (T 1) attends to every cached position up to its own.
  void forward_cached(AttentionActs& acts, Tensor& y, const Tensor& x, LayerKvCache& cache,
                      int64_t pos0) const;
  // dx (R, C) written from dy (R, C); x is the forward input.
  void backward(Tensor& dx, const Tensor& dy, const Tensor& x, const AttentionActs& acts,
                Workspace& ws) const;

 private:
  // The attention core's forward FLOPs for B sequences of T tokens: q k^T and the weighted sum of v, 2*T*T*D
  // each per head, halved for the causal mask (the 6*L*T*C term of the usual 6N + 6LTC per token).
  double core_flops(int64_t B, int64_t T) const {
    return 2.0 * static_cast<double>(B) * static_cast<double>(T) * static_cast<double>(T) * heads_ *
           head_dim_;
  }
  bool rope_;
  double rope_theta_;
  int kv_replicas_;
  int tp_;
  int64_t heads_, kv_heads_, head_dim_;  // local to this tp rank
  tp::ColumnParallelLinear qkv_;
  tp::RowParallelLinear proj_;
};

}  // namespace trident::models
