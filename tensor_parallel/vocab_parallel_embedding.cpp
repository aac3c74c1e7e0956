#include "tensor_parallel/vocab_parallel_embedding.h"

#include <algorithm>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/ops.h"
#include "tensor_parallel/mappings.h"

namespace trident::tp {
namespace {

void check_cpu(const char* what, const Tensor& a, const Tensor& tokens) {
  TRIDENT_CHECK(a.device().is_cpu() && tokens.device().is_cpu(), "{}: CPU only ({})", what, a.str());
  TRIDENT_CHECK(tokens.dtype() == DType::i32, "{}: tokens are {}, expected i32", what, tokens.str());
}

// out (N, C): row i = weight[tokens[i] - begin] for tokens in [begin, end), else zeros.
template <typename T>
void lookup(Tensor& out, const Tensor& tokens, const Tensor& weight, int64_t begin, int64_t end,
            int64_t vocab) {
  const int64_t n = tokens.numel(), c = weight.dim(1);
  const int32_t* ids = tokens.data<int32_t>();
  const T* w = weight.data<T>();
  T* o = out.data<T>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= vocab)
      fail("token id {} at position {} is outside the vocabulary [0, {})", id, i, vocab);
    if (id >= begin && id < end) {
      std::copy(w + (id - begin) * c, w + (id - begin + 1) * c, o + i * c);
    } else {
      std::fill(o + i * c, o + (i + 1) * c, T{});  // T{} is +0 in every float dtype
    }
  }
}

// dweight[tokens[i] - begin] += dout row i, for tokens in [begin, end).
template <typename T>
void scatter(Tensor& dweight, const Tensor& dout, const Tensor& tokens, int64_t begin, int64_t end) {
  const int64_t n = tokens.numel(), c = dweight.dim(1);
  const int32_t* ids = tokens.data<int32_t>();
  const T* d = dout.data<T>();
  T* g = dweight.data<T>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = ids[i];
    if (id < begin || id >= end) continue;
    T* row = g + (id - begin) * c;
    for (int64_t j = 0; j < c; ++j) row[j] += d[i * c + j];
  }
}

// The scatter-add for any float dtype: bf16/f16 gradients accumulate in f32 and are rounded once.
void scatter_add(Tensor& dweight, const Tensor& dout, const Tensor& tokens, int64_t begin, int64_t end) {
  if (ops::cpu::ran_in_f32(scatter_add, dweight, dout, tokens, begin, end)) return;
  check_cpu("vocab-parallel embedding backward", dout, tokens);
  TRIDENT_CHECK(dweight.dtype() == dout.dtype(), "embedding gradient {} for output gradient {}",
                dweight.str(), dout.str());
  switch (dout.dtype()) {
    case DType::f32:
      return scatter<float>(dweight, dout, tokens, begin, end);
    case DType::f64:
      return scatter<double>(dweight, dout, tokens, begin, end);
    default:
      fail("vocab-parallel embedding: no {} support", dtype_name(dout.dtype()));
  }
}

}  // namespace

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
  check_cpu("vocab-parallel embedding", full, tokens);
  TRIDENT_CHECK(full.dtype() == weight_->value.dtype(), "embedding output {} for weight {}", full.str(),
                weight_->value.str());
  switch (full.dtype()) {
    case DType::f32:
      lookup<float>(full, tokens, weight_->value, begin_, end_, padded_vocab_);
      break;
    case DType::f64:
      lookup<double>(full, tokens, weight_->value, begin_, end_, padded_vocab_);
      break;
    case DType::bf16:  // a lookup copies rows: low-precision weights need no f32 round trip
      lookup<bf16>(full, tokens, weight_->value, begin_, end_, padded_vocab_);
      break;
    case DType::f16:
      lookup<f16>(full, tokens, weight_->value, begin_, end_, padded_vocab_);
      break;
    default:
      fail("vocab-parallel embedding: no {} support", dtype_name(full.dtype()));
  }
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
  scatter_add(weight_->grad, full, tokens, begin_, end_);
}

}  // namespace trident::tp
