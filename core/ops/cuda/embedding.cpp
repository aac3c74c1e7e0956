// Token embedding on CUDA: the Tensor entry points of core/ops/cuda/embedding.cu. The kernels check the token
// ids as they go; each op reads the verdict back once (the one host wait here) and throws the CPU op's
// message.
#include <climits>

#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/cuda/embedding_launch.h"

namespace trident::ops::cuda {
namespace {

// 8 bytes of device memory for the first bad token.
Tensor bad_token_slot(const Tensor& like) {
  return Tensor::empty({2}, DType::i32, like.device());
}

void throw_if_bad(std::string_view op, const Tensor& slot, int64_t vocab, cudaStream_t stream) {
  unsigned long long bad = kNoBadToken;
  TRIDENT_CUDA_CHECK(cudaMemcpyAsync(&bad, slot.raw(), sizeof(bad), cudaMemcpyDeviceToHost, stream));
  TRIDENT_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (bad != kNoBadToken) {
    fail("ops::{}: token id {} at position {} is outside the vocabulary [0, {})", op, bad_token_id(bad),
         bad_token_position(bad), vocab);
  }
}

}  // namespace

void embedding_forward(Tensor& out, const Tensor& tokens, const Tensor& weight) {
  constexpr std::string_view op = "embedding_forward";
  require_defined(op, "weight", weight);
  require_defined(op, "tokens", tokens);
  TRIDENT_CHECK(weight.ndim() == 2, "ops::embedding_forward: weight {} should be (V, C)", weight.str());
  TRIDENT_CHECK(tokens.dtype() == DType::i32, "ops::embedding_forward: tokens {} should hold i32",
                tokens.str());
  const int64_t vocab = weight.dim(0), c = weight.dim(1), n = tokens.numel();
  TRIDENT_CHECK(rows_of(op, "out", out, c) == n,
                "ops::embedding_forward: out {} does not hold one row per token of {}", out.str(),
                tokens.str());
  require_dtype(op, weight.dtype(), {&out});
  const cudaStream_t stream = stream_for(op, {&out, &tokens, &weight});
  require_kernel_dtype(op, weight.dtype());
  TRIDENT_CHECK(n < INT_MAX, "ops::embedding_forward: {} tokens in one call; at most {}", n, INT_MAX - 1);
  if (n == 0) return;
  Tensor slot = bad_token_slot(weight);
  TRIDENT_CUDA_CHECK(launch_embedding_forward(out.raw(), tokens.data<int32_t>(), weight.raw(), n, vocab, c,
                                              weight.dtype(), static_cast<unsigned long long*>(slot.raw()),
                                              stream));
  throw_if_bad(op, slot, vocab, stream);
}

void embedding_backward(Tensor& dweight, const Tensor& dout, const Tensor& tokens) {
  constexpr std::string_view op = "embedding_backward";
  require_defined(op, "dweight", dweight);
  require_defined(op, "tokens", tokens);
  TRIDENT_CHECK(dweight.ndim() == 2, "ops::embedding_backward: dweight {} should be (V, C)", dweight.str());
  TRIDENT_CHECK(tokens.dtype() == DType::i32, "ops::embedding_backward: tokens {} should hold i32",
                tokens.str());
  const int64_t vocab = dweight.dim(0), c = dweight.dim(1), n = tokens.numel();
  TRIDENT_CHECK(rows_of(op, "dout", dout, c) == n,
                "ops::embedding_backward: dout {} does not hold one row per token of {}", dout.str(),
                tokens.str());
  require_dtype(op, dweight.dtype(), {&dout});
  const cudaStream_t stream = stream_for(op, {&dweight, &dout, &tokens});
  require_kernel_dtype(op, dweight.dtype());
  TRIDENT_CHECK(n < INT_MAX, "ops::embedding_backward: {} tokens in one call; at most {}", n, INT_MAX - 1);
  if (n == 0) return;
  const size_t scratch_bytes = embedding_backward_scratch_bytes(n, vocab);
  // Sort buffers and CUB's temp storage, as f32 words: the allocator hands out 256-byte-aligned blocks.
  Tensor scratch =
      Tensor::empty({static_cast<int64_t>((scratch_bytes + 3) / 4)}, DType::f32, dweight.device());
  Tensor slot = bad_token_slot(dweight);
  TRIDENT_CUDA_CHECK(launch_embedding_backward(dweight.raw(), dout.raw(), tokens.data<int32_t>(), n, vocab, c,
                                               dweight.dtype(), scratch.raw(), scratch.nbytes(),
                                               static_cast<unsigned long long*>(slot.raw()), stream));
  throw_if_bad(op, slot, vocab, stream);
}

}  // namespace trident::ops::cuda
