#pragma once
// Launchers for core/ops/cuda/embedding.cu: raw device pointers, sizes, the compute stream.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

// The first token outside [0, vocab), as the kernels leave it in an 8-byte device word: its position in the
// high 32 bits and its id in the low 32 bits, so an atomicMin keeps the lowest position. kNoBadToken when
// none.
inline constexpr unsigned long long kNoBadToken = ~0ull;
inline int64_t bad_token_position(unsigned long long bad) {
  return static_cast<int64_t>(bad >> 32);
}
inline int32_t bad_token_id(unsigned long long bad) {
  return static_cast<int32_t>(static_cast<uint32_t>(bad & 0xffffffffull));
}

// weight (rows, c) holds the ids [vocab_start, vocab_start + rows) of a vocabulary of `vocab` (the whole
// table: vocab_start 0, rows = vocab).
//
// out (n, c) = weight[tokens (n) - vocab_start], zero rows for ids outside the table's range; *bad (device)
// set to the first token outside [0, vocab) or kNoBadToken. n < 2^31.
cudaError_t launch_embedding_forward(void* out, const int32_t* tokens, const void* weight, int64_t n,
                                     int64_t vocab_start, int64_t rows, int64_t vocab, int64_t c, DType dtype,
                                     unsigned long long* bad, cudaStream_t stream);

// Bytes of device scratch launch_embedding_backward needs for n tokens (sort buffers and CUB's temp storage).
size_t embedding_backward_scratch_bytes(int64_t n, int64_t vocab);
// dweight (rows, c) += scatter-add of dout (n, c) at tokens (n) - vocab_start, for the ids in the table's
// range. If any token is bad, *bad says which and dweight is left untouched. scratch:
// embedding_backward_scratch_bytes(n, vocab) bytes, 256-byte aligned.
cudaError_t launch_embedding_backward(void* dweight, const void* dout, const int32_t* tokens, int64_t n,
                                      int64_t vocab_start, int64_t rows, int64_t vocab, int64_t c,
                                      DType dtype, void* scratch, size_t scratch_bytes,
                                      unsigned long long* bad, cudaStream_t stream);

}  // namespace trident::ops::cuda
