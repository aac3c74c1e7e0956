#include "tensor_parallel/vocab_parallel_embedding.h"

#include "core/ops/ops.h"
#include "tensor_parallel/mappings.h"

namespace trident::tp {

VocabParallelEmbedding::VocabParallelEmbedding(ParamSet& params, const std::string& name,
                                               int64_t padded_vocab, int64_t dim, double init_std,
                                               TpGroup group, bool sequence_parallel)
    : group_(group), padded_vocab_(padded_vocab), dim_(dim), sequence_parallel_(sequence_parallel) {
  group.check(name.c_str());
  if (padded_vocab % group.size != 0) {
    fail("{}: the padded vocabulary of {} does not split over {} tensor-parallel ranks", name, padded_vocab,
         group.size);
  }
  const int64_t local = padded_vocab / group.size;
  begin_ = group.rank * local;
  end_ = begin_ + local;
  weight_ =
      &params.add(name, {padded_vocab, dim}, {Init::normal, 0.0, init_std}, {0, group.size, group.rank});
}

void VocabParallelEmbedding::forward(Tensor& out, const Tensor& tokens) const {
  const int64_t n = tokens.numel();
  if (group_.size == 1) return ops::embedding_forward(out, tokens, weight_->value);  // the whole table here
  const bool sp = sequence_parallel_ && group_.size > 1;
  Tensor full = sp ? Tensor::empty({n, dim_}, out.dtype(), out.device()) : out.view({n, dim_});
  ops::vocab_range_embedding_forward(full, tokens, weight_->value, begin_,
                                     padded_vocab_);  // zero rows elsewhere
  if (sp) {
    sp_scatter_forward(group_, out, full);
  } else {
    g_forward(group_, full);
  }
}

void VocabParallelEmbedding::backward(const Tensor& dout, const Tensor& tokens) const {
  const int64_t n = tokens.numel();
  if (group_.size == 1) return ops::embedding_backward(weight_->grad, dout.view({n, dim_}), tokens);
  Tensor full;
  if (sequence_parallel_ && group_.size > 1) {
    full = Tensor::empty({n, dim_}, dout.dtype(), dout.device());
    sp_scatter_backward(group_, full, dout);
  } else {
    g_backward(group_, dout);
    full = dout.view({n, dim_});
  }
  ops::vocab_range_embedding_backward(weight_->grad, full, tokens, begin_, padded_vocab_);
}

}  // namespace trident::tp
