// Token embedding on CUDA: stream choice and launch of core/ops/cuda/embedding.cu, after the checks of
// core/ops/embedding.cpp. The kernels check the token ids as they go; each op reads the verdict back once
// (the one host wait here) and throws the CPU op's message.
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

void embedding_forward(std::string_view op, Tensor& out, const Tensor& tokens, const Tensor& weight,
                       int64_t vocab_start, int64_t vocab) {
  const int64_t n = tokens.numel();
  const cudaStream_t stream = stream_for(op, {&out, &tokens, &weight});
  require_kernel_dtype(op, weight.dtype());
  TRIDENT_CHECK(n < INT_MAX, "ops::{}: {} tokens in one call; at most {}", op, n, INT_MAX - 1);
  if (n == 0) return;
  Tensor slot = bad_token_slot(weight);
  TRIDENT_CUDA_CHECK(launch_embedding_forward(out.raw(), tokens.data<int32_t>(), weight.raw(), n, vocab_start,
                                              weight.dim(0), vocab, weight.dim(1), weight.dtype(),
                                              static_cast<unsigned long long*>(slot.raw()), stream));
  throw_if_bad(op, slot, vocab, stream);
}

void embedding_backward(std::string_view op, Tensor& dweight, const Tensor& dout, const Tensor& tokens,
                        int64_t vocab_start, int64_t vocab) {
  const int64_t n = tokens.numel();
  const cudaStream_t stream = stream_for(op, {&dweight, &dout, &tokens});
  require_dtype(op, dweight.dtype(), {&dout});  // the kernels read one dtype
  require_kernel_dtype(op, dweight.dtype());
  TRIDENT_CHECK(n < INT_MAX, "ops::{}: {} tokens in one call; at most {}", op, n, INT_MAX - 1);
  if (n == 0) return;
  const size_t scratch_bytes = embedding_backward_scratch_bytes(n, vocab);
  // Sort buffers and CUB's temp storage, as f32 words: the allocator hands out 256-byte-aligned blocks.
  Tensor scratch =
      Tensor::empty({static_cast<int64_t>((scratch_bytes + 3) / 4)}, DType::f32, dweight.device());
  Tensor slot = bad_token_slot(dweight);
  TRIDENT_CUDA_CHECK(launch_embedding_backward(dweight.raw(), dout.raw(), tokens.data<int32_t>(), n,
                                               vocab_start, dweight.dim(0), vocab, dweight.dim(1),
                                               dweight.dtype(), scratch.raw(), scratch.nbytes(),
                                               static_cast<unsigned long long*>(slot.raw()), stream));
  throw_if_bad(op, slot, vocab, stream);
}

}  // namespace trident::ops::cuda
