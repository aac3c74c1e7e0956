#pragma once
// Launchers of the causal grouped-query attention kernels (core/ops/cuda/attention_forward.cu and
// attention_backward.cu). Raw pointers, dense row-major: q/out/dout/dq (B, T, H, D), k/v/dk/dv (B, T, Hkv, D)
// of `dtype`; lse (B, H, T) f32.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

// The largest head dim the kernels take (compile-time buckets 32, 64, 128; D is padded up to its bucket).
inline constexpr int64_t kAttentionMaxHeadDim = 128;

// out (B, T, H, D), lse (B, H, T) f32.
cudaError_t launch_attention_forward(void* out, float* lse, const void* q, const void* k, const void* v,
                                     int64_t batch, int64_t seq, int64_t heads, int64_t kv_heads,
                                     int64_t head_dim, DType dtype, cudaStream_t stream);

// dq (B, T, H, D), dk, dv (B, T, Hkv, D) written. Scratch: delta (B, H, T) f32 and dq_accum (B, T, H, D) f32,
// which may be dq itself when dtype is f32 (then no conversion pass runs).
cudaError_t launch_attention_backward(void* dq, void* dk, void* dv, const void* dout, const void* q,
                                      const void* k, const void* v, const void* out, const float* lse,
                                      float* delta, float* dq_accum, int64_t batch, int64_t seq,
                                      int64_t heads, int64_t kv_heads, int64_t head_dim, DType dtype,
                                      cudaStream_t stream);

}  // namespace trident::ops::cuda
