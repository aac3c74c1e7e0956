#pragma once
// Launchers of the cross-entropy kernels (cross_entropy.cu): raw device pointers; logits (N, Vp) of element
// type `dtype` (f32, bf16, f16) with the first `vocab` columns real, targets (N) i32, losses/lse (N) f32.
// `bad` is one device word the caller sets to all ones before the launch: a target outside [0, vocab) that is
// not -1 leaves there the smallest (row << 32 | uint32 target) among the bad rows.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

cudaError_t launch_cross_entropy_forward(float* losses, float* lse, unsigned long long* bad,
                                         const void* logits, const int32_t* targets, int64_t n, int64_t vocab,
                                         int64_t vp, DType dtype, cudaStream_t stream);
// dlogits may alias logits.
cudaError_t launch_cross_entropy_backward(void* dlogits, unsigned long long* bad, const void* logits,
                                          const float* lse, const int32_t* targets, int64_t n, int64_t vocab,
                                          int64_t vp, float scale, DType dtype, cudaStream_t stream);

}  // namespace trident::ops::cuda
