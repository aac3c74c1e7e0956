#pragma once
// Token embedding wte (Vp, C), vocab-parallel over the tp group, plus GPT-2's learned position embedding wpe
// (max_seq_len, C), replicated. Under sequence parallelism the output is this rank's block of rows, and each
// rank adds the positions of its own rows (so wpe's gradient is partial: the model sums it over tp).
#include "core/tensor/param_set.h"
#include "models/activations.h"
#include "models/model_spec.h"
#include "tensor_parallel/vocab_parallel_embedding.h"

namespace trident::models {

class Embedding {
 public:
  Embedding(ParamSet& params, const ModelSpec& spec, tp::TpGroup group);

  Param& wte() const { return wte_.weight(); }
  Param* wpe() const { return wpe_; }  // null for LLaMA
  // tokens (B, T) i32 -> out (B*T, C), or (B*T/tp, C) this rank's rows under sequence parallelism. pos0: the
  // position of each sequence's first token (incremental decoding runs positions [pos0, pos0 + T)).
  void forward(Tensor& out, const Tensor& tokens, Workspace& ws, int64_t pos0 = 0) const;
  void backward(const Tensor& dout, const Tensor& tokens, Workspace& ws) const;

 private:
  // (rows) i32: the position in its sequence of each output row of this rank.
  const Tensor& positions(Workspace& ws, int64_t rows, int64_t T, int64_t pos0 = 0) const;

  tp::TpGroup group_;
  bool sequence_parallel_;
  tp::VocabParallelEmbedding wte_;
  Param* wpe_ = nullptr;
  int64_t max_seq_len_;
};

}  // namespace trident::models
