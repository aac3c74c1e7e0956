#pragma once
// Device-side helpers shared by the CUDA kernels (core/ops/cuda/*.cu). Kernels see raw pointers and a DType;
// the Tensor checks happen on the host side (core/ops/cuda/*.cpp), before any launch. Compiled by nvcc as
// C++17, so nothing here includes the C++20 tensor headers: only core/tensor/dtype.h.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

// Element <-> f32 compute value.
__device__ __forceinline__ float to_f32(float x) {
  return x;
}
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
__device__ __forceinline__ float to_f32(__half x) {
  return __half2float(x);
}

template <typename T>
__device__ __forceinline__ T from_f32(float x);
template <>
__device__ __forceinline__ float from_f32<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float x) {
  return __float2half_rn(x);
}

// Combine ops of the warp and block reductions.
struct SumOp {
  template <typename V>
  __device__ __forceinline__ V operator()(V a, V b) const {
    return a + b;
  }
};
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
  __device__ __forceinline__ double operator()(double a, double b) const { return fmax(a, b); }
};

// Reduces v over the warp with `op` (butterfly, so every lane gets the result).
template <typename V, typename Op>
__device__ __forceinline__ V warp_reduce(V v, Op op) {
  for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Reduces v over the block with `op` (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. `identity` fills the lanes past the block's warp count. `scratch` is 32 V of shared memory; the
// trailing sync lets the caller reuse it at once.
template <typename V, typename Op>
__device__ __forceinline__ V block_reduce(V v, V identity, V* scratch, Op op) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_reduce(v, op);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : identity;
  v = warp_reduce(v, op);
  __syncthreads();
  return v;
}

template <typename V>
__device__ __forceinline__ V warp_sum(V v) {
  return warp_reduce(v, SumOp{});
}
template <typename V>
__device__ __forceinline__ V warp_max(V v) {
  return warp_reduce(v, MaxOp{});
}
template <typename V>
__device__ __forceinline__ V block_sum(V v, V* scratch) {
  return block_reduce(v, V(0), scratch, SumOp{});
}
template <typename V>
__device__ __forceinline__ V block_max(V v, V* scratch) {
  return block_reduce(v, static_cast<V>(-INFINITY), scratch, MaxOp{});
}

// Per-thread online softmax statistics of a row: the running max m and the sum s of exp(v - m) over the
// values folded in so far.
struct OnlineMaxSum {
  float m = -INFINITY, s = 0.0f;
  __device__ __forceinline__ void add(float v) {
    if (v > m) {
      s = s * expf(m - v) + 1.0f;  // expf(-inf) = 0 on the first value
      m = v;
    } else if (v != -INFINITY) {  // -inf adds 0, and would give exp(-inf + inf) = NaN while m is -inf
      s += expf(v - m);
    }
  }
};

// A row's softmax statistics: its max and the sum of exp(v - max) over it.
struct RowMaxSum {
  float max, sum;
};

// One block per row: the max of row[0, c) and the sum of exp(row[j] - max). Each thread folds its strided
// elements online, then the block combines them, so every element is read and exponentiated once.
template <typename T>
__device__ __forceinline__ RowMaxSum block_row_max_sumexp(const T* row, int64_t c, float* scratch) {
  OnlineMaxSum acc;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) acc.add(to_f32(row[j]));
  const float row_max = block_max(acc.m, scratch);
  // A thread that saw nothing (or only -inf) holds m = -inf and s = 0: it adds nothing.
  const float row_sum = block_sum(acc.m == -INFINITY ? 0.0f : acc.s * expf(acc.m - row_max), scratch);
  return {row_max, row_sum};
}

inline unsigned int blocks_for(int64_t n, int threads) {
  return static_cast<unsigned int>((n + threads - 1) / threads);
}

// Threads for a one-block-per-row kernel over rows of c elements: about 8 elements each, a whole number of
// warps, at most 1024.
inline int row_block_threads(int64_t c) {
  const int64_t warps = (c + 8 * 32 - 1) / (8 * 32);
  return static_cast<int>(std::clamp<int64_t>(warps, 1, 32) * 32);
}

}  // namespace trident::ops::cuda

// Runs the statement with `T` bound to the element type of `dtype` (f32, bf16, f16); the host side has
// already refused every other dtype, so the launcher only reports it.
#define TRIDENT_KERNEL_DISPATCH(dtype, ...) \
  switch (dtype) {                          \
    case ::trident::DType::f32: {           \
      using T = float;                      \
      __VA_ARGS__;                          \
      break;                                \
    }                                       \
    case ::trident::DType::bf16: {          \
      using T = __nv_bfloat16;              \
      __VA_ARGS__;                          \
      break;                                \
    }                                       \
    case ::trident::DType::f16: {           \
      using T = __half;                     \
      __VA_ARGS__;                          \
      break;                                \
    }                                       \
    default:                                \
      return cudaErrorInvalidValue;         \
  }
