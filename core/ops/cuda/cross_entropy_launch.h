#pragma once
// Launchers of the cross-entropy kernels (cross_entropy.cu): raw device pointers; logits (N, Vl) of element
// type `dtype` (f32, bf16, f16) holding the global columns [vocab_start, vocab_start + Vl), of which those
// below `vocab` are real (the whole padded vocabulary: vocab_start 0, Vl = Vp); targets (N) i32 global ids;
// statistics (N) f32. `bad` is one device word the caller sets to all ones before the launch: a target
// outside [0, vocab) that is not -1 leaves there the smallest (row << 32 | uint32 target) among the bad rows.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

cudaError_t launch_cross_entropy_forward(float* losses, float* lse, unsigned long long* bad,
                                         const void* logits, const int32_t* targets, int64_t n, int64_t vocab,
                                         int64_t vp, DType dtype, cudaStream_t stream);
// dlogits may alias logits.
cudaError_t launch_cross_entropy_backward(void* dlogits, unsigned long long* bad, const void* logits,
                                          const float* lse, const int32_t* targets, int64_t n,
                                          int64_t vocab_start, int64_t vocab, int64_t vl, float scale,
                                          DType dtype, cudaStream_t stream);

// The vocabulary-parallel pieces (ops.h): row_max (N); sums (2, N) = [sum exp(logit - row_max) | target
// logit or 0]; losses and lse (N) from the group's row_max and sums.
cudaError_t launch_cross_entropy_partial_max(float* row_max, const void* logits, int64_t n,
                                             int64_t vocab_start, int64_t vocab, int64_t vl, DType dtype,
                                             cudaStream_t stream);
cudaError_t launch_cross_entropy_partial_sums(float* sums, unsigned long long* bad, const void* logits,
                                              const float* row_max, const int32_t* targets, int64_t n,
                                              int64_t vocab_start, int64_t vocab, int64_t vl, DType dtype,
                                              cudaStream_t stream);
cudaError_t launch_cross_entropy_partial_loss(float* losses, float* lse, const float* row_max,
                                              const float* sums, const int32_t* targets, int64_t n,
                                              cudaStream_t stream);

}  // namespace trident::ops::cuda
