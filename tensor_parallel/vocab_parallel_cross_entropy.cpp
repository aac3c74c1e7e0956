#include "tensor_parallel/vocab_parallel_cross_entropy.h"

#include <cmath>
#include <limits>

#include "core/ops/cpu/cpu_common.h"

namespace trident::tp {
namespace {

struct Range {
  int64_t n, local, begin, valid;  // rows, local columns, first global column, real columns held here
};

Range range_of(const TpGroup& group, const char* what, const Tensor& logits, const Tensor& targets,
               int64_t vocab) {
  group.check(what);
  TRIDENT_CHECK(logits.ndim() == 2, "{}: logits {} are not (N, Vp/tp)", what, logits.str());
  TRIDENT_CHECK(logits.device().is_cpu() && targets.device().is_cpu(), "{}: CPU only ({})", what,
                logits.str());
  TRIDENT_CHECK(targets.dtype() == DType::i32 && targets.numel() == logits.dim(0),
                "{}: targets {} for logits {}", what, targets.str(), logits.str());
  const int64_t local = logits.dim(1), begin = group.rank * local;
  TRIDENT_CHECK(vocab > 0 && vocab <= local * group.size, "{}: vocab {} for {} columns over {} ranks", what,
                vocab, local, group.size);
  // Checked before any collective: every rank sees the same targets, so every rank fails alike.
  const int32_t* t = targets.data<int32_t>();
  for (int64_t i = 0; i < targets.numel(); ++i) {
    if (t[i] != -1 && (t[i] < 0 || t[i] >= vocab))
      fail("{}: target {} at row {} is outside the vocabulary [0, {}) (and is not -1, ignored)", what, t[i],
           i, vocab);
  }
  const int64_t valid = std::max<int64_t>(0, std::min(local, vocab - begin));
  return {logits.dim(0), local, begin, valid};
}

template <typename T>
void forward_impl(const TpGroup& group, Tensor& losses, Tensor& lse, const Tensor& logits,
                  const Tensor& targets, int64_t vocab) {
  const Range r = range_of(group, "vocab-parallel cross-entropy", logits, targets, vocab);
  const T* x = logits.data<T>();
  const int32_t* t = targets.data<int32_t>();
  // Row max over this rank's real columns (lowest() where it holds none), then the group max.
  Tensor max = Tensor::empty({r.n}, DType::f64);
  double* m = max.data<double>();
  for (int64_t i = 0; i < r.n; ++i) {
    double v = std::numeric_limits<double>::lowest();
    for (int64_t j = 0; j < r.valid; ++j) v = std::max(v, static_cast<double>(x[i * r.local + j]));
    m[i] = v;
  }
  if (group.size > 1) group.comm->all_reduce(max, comm::ReduceOp::max);
  // [sum exp | target logit] per row, summed over the group in one all-reduce.
  Tensor sums = Tensor::empty({2 * r.n}, DType::f64);
  double* s = sums.data<double>();
  double* z = s + r.n;
  for (int64_t i = 0; i < r.n; ++i) {
    double acc = 0.0;
    for (int64_t j = 0; j < r.valid; ++j) acc += std::exp(static_cast<double>(x[i * r.local + j]) - m[i]);
    s[i] = acc;
    const int64_t y = t[i] - r.begin;
    z[i] = (y >= 0 && y < r.valid) ? static_cast<double>(x[i * r.local + y]) : 0.0;
  }
  if (group.size > 1) group.comm->all_reduce(sums, comm::ReduceOp::sum);
  T* out = losses.data<T>();
  T* l = lse.data<T>();
  for (int64_t i = 0; i < r.n; ++i) {
    const double row_lse = m[i] + std::log(s[i]);
    l[i] = static_cast<T>(row_lse);
    out[i] = t[i] < 0 ? T(0) : static_cast<T>(row_lse - z[i]);
  }
}

template <typename T>
void backward_impl(const TpGroup& group, Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                   const Tensor& targets, int64_t vocab, double scale) {
  const Range r = range_of(group, "vocab-parallel cross-entropy backward", logits, targets, vocab);
  const T* x = logits.data<T>();
  const T* l = lse.data<T>();
  const int32_t* t = targets.data<int32_t>();
  T* d = dlogits.data<T>();
  for (int64_t i = 0; i < r.n; ++i) {
    const int64_t y = t[i];
    T* row = d + i * r.local;
    const T* xrow = x + i * r.local;
    if (y < 0) {
      for (int64_t j = 0; j < r.local; ++j) row[j] = T(0);
      continue;
    }
    const double row_lse = static_cast<double>(l[i]);
    for (int64_t j = 0; j < r.valid; ++j) {
      const double p = std::exp(static_cast<double>(xrow[j]) - row_lse);
      row[j] = static_cast<T>((p - (r.begin + j == y ? 1.0 : 0.0)) * scale);
    }
    for (int64_t j = r.valid; j < r.local; ++j) row[j] = T(0);
  }
}

void check_outputs(const Tensor& a, const Tensor& logits, int64_t n, const char* what) {
  TRIDENT_CHECK(a.dtype() == logits.dtype() && a.numel() == n && a.device().is_cpu(),
                "vocab-parallel cross-entropy: {} {} for logits {}", what, a.str(), logits.str());
}

}  // namespace

void vocab_parallel_cross_entropy_forward(const TpGroup& group, Tensor& losses, Tensor& lse,
                                          const Tensor& logits, const Tensor& targets, int64_t vocab) {
  if (ops::cpu::ran_in_f32(vocab_parallel_cross_entropy_forward, group, losses, lse, logits, targets, vocab))
    return;
  check_outputs(losses, logits, logits.dim(0), "losses");
  check_outputs(lse, logits, logits.dim(0), "lse");
  switch (logits.dtype()) {
    case DType::f32:
      return forward_impl<float>(group, losses, lse, logits, targets, vocab);
    case DType::f64:
      return forward_impl<double>(group, losses, lse, logits, targets, vocab);
    default:
      fail("vocab-parallel cross-entropy: no {} support", dtype_name(logits.dtype()));
  }
}

void vocab_parallel_cross_entropy_backward(const TpGroup& group, Tensor& dlogits, const Tensor& logits,
                                           const Tensor& lse, const Tensor& targets, int64_t vocab,
                                           double dloss_scale) {
  if (ops::cpu::ran_in_f32(vocab_parallel_cross_entropy_backward, group, dlogits, logits, lse, targets, vocab,
                           dloss_scale))
    return;
  check_outputs(dlogits, logits, logits.numel(), "dlogits");
  check_outputs(lse, logits, logits.dim(0), "lse");
  switch (logits.dtype()) {
    case DType::f32:
      return backward_impl<float>(group, dlogits, logits, lse, targets, vocab, dloss_scale);
    case DType::f64:
      return backward_impl<double>(group, dlogits, logits, lse, targets, vocab, dloss_scale);
    default:
      fail("vocab-parallel cross-entropy: no {} support", dtype_name(logits.dtype()));
  }
}

}  // namespace trident::tp
