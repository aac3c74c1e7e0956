#pragma once
// VocabParallelEmbedding: the token embedding wte (Vp, C) split by rows over the tp group
// (ShardSpec{0, tp, r}): rank r holds the rows of the ids [r*Vp/tp, (r+1)*Vp/tp). Each rank looks up the ids
// in its range and writes zero rows for the others; g (all-reduce sum) then gives every rank the full lookup.
// Backward is g's identity: every rank scatter-adds the full dout into its own rows only. Vp must be
// divisible by tp (the model config pads the vocabulary).
//
// With sequence_parallel the all-reduce becomes a reduce-scatter (sp_scatter, layout in mappings.h): the
// output is this rank's block of rows (N/tp, C), and backward all-gathers dout before the scatter-add.
#include <string>

#include "core/tensor/param_set.h"
#include "tensor_parallel/tp_group.h"

namespace trident::tp {

class VocabParallelEmbedding {
 public:
  VocabParallelEmbedding(ParamSet& params, const std::string& name, int64_t padded_vocab, int64_t dim,
                         double init_std, TpGroup group = {}, bool sequence_parallel = false);

  Param& weight() const { return *weight_; }
  int64_t vocab_begin() const { return begin_; }  // this rank's ids: [vocab_begin, vocab_end)
  int64_t vocab_end() const { return end_; }
  // tokens (N) i32 global ids in [0, Vp); out (N, C), or (N/tp, C) with sequence_parallel.
  void forward(Tensor& out, const Tensor& tokens) const;
  // weight.grad rows of this rank += dout rows of the tokens in its range; dout has out's shape.
  void backward(const Tensor& dout, const Tensor& tokens) const;

 private:
  TpGroup group_;
  int64_t padded_vocab_, dim_, begin_, end_;
  bool sequence_parallel_;
  Param* weight_;
};

}  // namespace trident::tp
