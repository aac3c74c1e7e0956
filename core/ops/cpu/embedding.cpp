// Token embedding lookup and its scatter-add backward on CPU. The lookup copies rows in any float dtype; the
// scatter-add of bf16/f16 accumulates in f32 (cpu::ran_in_f32).
#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops {
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

void embedding_forward(Tensor& out, const Tensor& tokens, const Tensor& weight) {
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, tokens, weight)) return cuda::embedding_forward(out, tokens, weight);
  cpu::require_cpu("embedding_forward", {&out, &tokens, &weight});
  cpu::require_defined("embedding_forward", "weight", weight);
  cpu::require_defined("embedding_forward", "tokens", tokens);
  TRIDENT_CHECK(weight.ndim() == 2, "ops::embedding_forward: weight {} should be (V, C)", weight.str());
  TRIDENT_CHECK(tokens.dtype() == DType::i32, "ops::embedding_forward: tokens {} should hold i32",
                tokens.str());
  const int64_t vocab = weight.dim(0), c = weight.dim(1), n = tokens.numel();
  TRIDENT_CHECK(cpu::rows_of("embedding_forward", "out", out, c) == n,
                "ops::embedding_forward: out {} does not hold one row per token of {}", out.str(),
                tokens.str());
  cpu::require_dtype("embedding_forward", weight.dtype(), {&out});
  const int32_t* ids = tokens.data<int32_t>();
  check_tokens("embedding_forward", ids, n, vocab);
  // A lookup copies rows, so bf16/f16 weights are copied as they are, with no f32 round trip.
  cpu::dispatch_storage("embedding_forward", weight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* w = weight.data<T>();
    T* y = out.data<T>();
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) std::copy(w + ids[i] * c, w + (ids[i] + 1) * c, y + i * c);
  });
}

void embedding_backward(Tensor& dweight, const Tensor& dout, const Tensor& tokens) {
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(dweight, dout, tokens)) return cuda::embedding_backward(dweight, dout, tokens);
  if (cpu::ran_in_f32(embedding_backward, dweight, dout, tokens)) return;
  cpu::require_cpu("embedding_backward", {&dweight, &dout, &tokens});
  cpu::require_defined("embedding_backward", "dweight", dweight);
  cpu::require_defined("embedding_backward", "tokens", tokens);
  TRIDENT_CHECK(dweight.ndim() == 2, "ops::embedding_backward: dweight {} should be (V, C)", dweight.str());
  TRIDENT_CHECK(tokens.dtype() == DType::i32, "ops::embedding_backward: tokens {} should hold i32",
                tokens.str());
  const int64_t vocab = dweight.dim(0), c = dweight.dim(1), n = tokens.numel();
  TRIDENT_CHECK(cpu::rows_of("embedding_backward", "dout", dout, c) == n,
                "ops::embedding_backward: dout {} does not hold one row per token of {}", dout.str(),
                tokens.str());
  cpu::require_dtype("embedding_backward", dweight.dtype(), {&dout});
  const int32_t* ids = tokens.data<int32_t>();
  check_tokens("embedding_backward", ids, n, vocab);
  cpu::dispatch_float("embedding_backward", dweight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* dy = dout.data<T>();
    T* dw = dweight.data<T>();
    // Repeated ids hit the same row, so threads split the channels, not the tokens: no races, fixed order.
    constexpr int64_t kBlock = 64;
    const int64_t blocks = (c + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (n * c > cpu::kParallelGrain)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t c0 = blk * kBlock, c1 = std::min(c, c0 + kBlock);
      for (int64_t i = 0; i < n; ++i) {
        T* row = dw + ids[i] * c;
        const T* g = dy + i * c;
        for (int64_t j = c0; j < c1; ++j) row[j] += g[j];
      }
    }
  });
}

}  // namespace trident::ops
