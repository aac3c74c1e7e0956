// Token embedding lookup and its scatter-add backward on CPU, over the rows [vocab_start, vocab_start +
// V_local) of the table (all of them for embedding_forward/backward). The lookup copies rows in any float
// dtype; the scatter-add of bf16/f16 accumulates in f32 (cpu::ran_in_f32).
#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {
namespace {

// Token ids are checked up front, outside any parallel region, so a bad id is an Error and not a crash.
void check_tokens(std::string_view op, const int32_t* tokens, int64_t n, int64_t vocab) {
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab) {
      fail("ops::{}: token id {} at position {} is outside the vocabulary [0, {})", op, tokens[i], i, vocab);
    }
  }
}

}  // namespace

void embedding_forward(std::string_view op, Tensor& out, const Tensor& tokens, const Tensor& weight,
                       int64_t vocab_start, int64_t vocab) {
  const int64_t rows = weight.dim(0), c = weight.dim(1), n = tokens.numel();
  const int32_t* ids = tokens.data<int32_t>();
  check_tokens(op, ids, n, vocab);
  // A lookup copies rows, so bf16/f16 weights are copied as they are, with no f32 round trip.
  dispatch_storage(op, weight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* w = weight.data<T>();
    T* y = out.data<T>();
#pragma omp parallel for schedule(static) if (n * c > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = ids[i] - vocab_start;
      if (row >= 0 && row < rows) {
        std::copy(w + row * c, w + (row + 1) * c, y + i * c);
      } else {
        std::fill(y + i * c, y + (i + 1) * c, T{});  // another rank's id; T{} is +0 in every float dtype
      }
    }
  });
}

void embedding_backward(std::string_view op, Tensor& dweight, const Tensor& dout, const Tensor& tokens,
                        int64_t vocab_start, int64_t vocab) {
  if (ran_in_f32(embedding_backward, op, dweight, dout, tokens, vocab_start, vocab)) return;
  const int64_t rows = dweight.dim(0), c = dweight.dim(1), n = tokens.numel();
  const int32_t* ids = tokens.data<int32_t>();
  check_tokens(op, ids, n, vocab);
  dispatch_float(op, dweight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* dy = dout.data<T>();
    T* dw = dweight.data<T>();
    // Repeated ids hit the same row, so threads split the channels, not the tokens: no races, fixed order.
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (c + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * c > kParallelGrain)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t c0 = blk * kBlock, c1 = std::min(c, c0 + kBlock);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t row_index = ids[i] - vocab_start;
        if (row_index < 0 || row_index >= rows) continue;  // another rank's id: no gradient here
        T* row = dw + row_index * c;
        const T* g = dy + i * c;
        for (int64_t j = c0; j < c1; ++j) row[j] += g[j];
      }
    }
  });
}

}  // namespace trident::ops::cpu
