#pragma once
// Vectorized elementwise maps shared by elementwise.cu and activation.cu: every thread moves 16 bytes per
// load and store when all pointers are 16-byte aligned (a tensor view may start anywhere), one element
// otherwise. The functor sees f32 values; each output is rounded once. Outputs may alias inputs element for
// element: each element is read and written by the same thread, read first.
#include <algorithm>
#include <cstdint>

#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {

// kN elements of T moved by one load or store.
template <typename T, int kN>
struct alignas(sizeof(T) * kN) Pack {
  T v[kN];
};

// Elements of T in 16 bytes: 4 f32, 8 bf16/f16.
template <typename T>
inline constexpr int kPack16 = static_cast<int>(16 / sizeof(T));

inline bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

inline constexpr int kMapThreads = 256;

// Grid-stride loops: past 65536 blocks, threads take more than one pack instead of launching more blocks.
inline unsigned int map_blocks(int64_t work) {
  const int64_t blocks = (work + kMapThreads - 1) / kMapThreads;
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65536)));
}

// y (n) = f(x); packs of kN first, then the fewer than kN elements left over.
template <int kN, typename T, typename F>
__global__ void unary_map_kernel(T* y, const T* x, int64_t n, F f) {
  const int64_t packs = n / kN;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = tid; p < packs; p += stride) {
    const Pack<T, kN> in = reinterpret_cast<const Pack<T, kN>*>(x)[p];
    Pack<T, kN> out;
#pragma unroll
    for (int j = 0; j < kN; ++j) out.v[j] = from_f32<T>(f(to_f32(in.v[j])));
    reinterpret_cast<Pack<T, kN>*>(y)[p] = out;
  }
  const int64_t i = packs * kN + tid;  // the tail
  if (i < n) y[i] = from_f32<T>(f(to_f32(x[i])));
}

// z (n) = f(x, y).
template <int kN, typename T, typename F>
__global__ void binary_map_kernel(T* z, const T* x, const T* y, int64_t n, F f) {
  const int64_t packs = n / kN;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = tid; p < packs; p += stride) {
    const Pack<T, kN> a = reinterpret_cast<const Pack<T, kN>*>(x)[p];
    const Pack<T, kN> b = reinterpret_cast<const Pack<T, kN>*>(y)[p];
    Pack<T, kN> out;
#pragma unroll
    for (int j = 0; j < kN; ++j) out.v[j] = from_f32<T>(f(to_f32(a.v[j]), to_f32(b.v[j])));
    reinterpret_cast<Pack<T, kN>*>(z)[p] = out;
  }
  const int64_t i = packs * kN + tid;
  if (i < n) z[i] = from_f32<T>(f(to_f32(x[i]), to_f32(y[i])));
}

template <typename T, typename F>
void launch_unary_map(T* y, const T* x, int64_t n, F f, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kN = kPack16<T>;
  if (aligned16(y) && aligned16(x)) {
    unary_map_kernel<kN><<<map_blocks((n + kN - 1) / kN), kMapThreads, 0, stream>>>(y, x, n, f);
  } else {
    unary_map_kernel<1><<<map_blocks(n), kMapThreads, 0, stream>>>(y, x, n, f);
  }
}

template <typename T, typename F>
void launch_binary_map(T* z, const T* x, const T* y, int64_t n, F f, cudaStream_t stream) {
  if (n == 0) return;
  constexpr int kN = kPack16<T>;
  if (aligned16(z) && aligned16(x) && aligned16(y)) {
    binary_map_kernel<kN><<<map_blocks((n + kN - 1) / kN), kMapThreads, 0, stream>>>(z, x, y, n, f);
  } else {
    binary_map_kernel<1><<<map_blocks(n), kMapThreads, 0, stream>>>(z, x, y, n, f);
  }
}

}  // namespace trident::ops::cuda
