// Elementwise activations on CUDA: GELU (tanh form) and SwiGLU over a fused [gate | up] input. The formulas
// and their evaluation order are the CPU op's (core/ops/cpu/activation.cpp), in f32, with one rounding per
// output.
#include <initializer_list>

#include "core/ops/cuda/activation_launch.h"
#include "core/ops/cuda/elementwise_map.cuh"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

constexpr float kSqrt2OverPi = static_cast<float>(0.7978845608028654);  // sqrt(2 / pi)
constexpr float kGeluCubic = static_cast<float>(0.044715);
constexpr float kGeluCubic3 = static_cast<float>(3 * 0.044715);
// e^{-2u} is capped so that it and 1 / (1 + e^{-2u}) stay finite and normal (see the CPU op).
constexpr float kMaxExp = 87.0f;

// With s = 1 / (1 + e^{-2u}), gelu(x) = 0.5 x (1 + tanh(u)) = x s: no cancellation for u << 0, one exp.
__device__ __forceinline__ float gelu_u(float x) {
  return kSqrt2OverPi * (x + kGeluCubic * x * x * x);
}
__device__ __forceinline__ float exp_minus_2u(float u) {
  return expf(fminf(-2.0f * u, kMaxExp));
}

struct GeluForward {
  __device__ float operator()(float x) const { return x / (1.0f + exp_minus_2u(gelu_u(x))); }
};

// d gelu / dx = s + 2 x s (1 - s) du, with 1 - s = e^{-2u} s.
struct GeluBackward {
  __device__ float operator()(float dy, float x) const {
    const float e = exp_minus_2u(gelu_u(x));
    const float s = 1.0f / (1.0f + e);
    const float du = kSqrt2OverPi * (1.0f + kGeluCubic3 * x * x);
    return dy * (s + 2.0f * x * s * (e * s) * du);
  }
};

__device__ __forceinline__ float sigmoid(float x) {
  return 1.0f / (1.0f + expf(-x));
}

// out (rows, f) = silu(gate) * up over in (rows, 2f) = [gate | up]. Pack p covers kN consecutive columns of
// one row (kN divides f), so gate, up and out packs are each contiguous.
template <int kN, typename T>
__global__ void swiglu_forward_kernel(T* __restrict__ out, const T* __restrict__ in, int64_t rows,
                                      int64_t f) {
  const int64_t packs = rows * f / kN;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < packs; p += stride) {
    const int64_t i = p * kN, r = i / f, j = i - r * f;
    const T* gate = in + r * 2 * f + j;  // (kN)
    const Pack<T, kN> g = *reinterpret_cast<const Pack<T, kN>*>(gate);
    const Pack<T, kN> u = *reinterpret_cast<const Pack<T, kN>*>(gate + f);
    Pack<T, kN> y;
#pragma unroll
    for (int k = 0; k < kN; ++k) {
      const float x = to_f32(g.v[k]);
      y.v[k] = from_f32<T>(x * sigmoid(x) * to_f32(u.v[k]));
    }
    *reinterpret_cast<Pack<T, kN>*>(out + i) = y;
  }
}

// din (rows, 2f) = [dgate | dup]: dgate = dy up silu'(gate), silu'(x) = s (1 + x (1 - s)); dup = dy
// silu(gate).
template <int kN, typename T>
__global__ void swiglu_backward_kernel(T* __restrict__ din, const T* __restrict__ dout,
                                       const T* __restrict__ in, int64_t rows, int64_t f) {
  const int64_t packs = rows * f / kN;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < packs; p += stride) {
    const int64_t i = p * kN, r = i / f, j = i - r * f;
    const T* gate = in + r * 2 * f + j;  // (kN)
    T* dgate = din + r * 2 * f + j;      // (kN)
    const Pack<T, kN> g = *reinterpret_cast<const Pack<T, kN>*>(gate);
    const Pack<T, kN> u = *reinterpret_cast<const Pack<T, kN>*>(gate + f);
    const Pack<T, kN> dy = *reinterpret_cast<const Pack<T, kN>*>(dout + i);
    Pack<T, kN> dg, du;
#pragma unroll
    for (int k = 0; k < kN; ++k) {
      const float x = to_f32(g.v[k]), up = to_f32(u.v[k]), d = to_f32(dy.v[k]);
      const float s = sigmoid(x);
      dg.v[k] = from_f32<T>(d * up * s * (1.0f + x * (1.0f - s)));
      du.v[k] = from_f32<T>(d * x * s);
    }
    *reinterpret_cast<Pack<T, kN>*>(dgate) = dg;
    *reinterpret_cast<Pack<T, kN>*>(dgate + f) = du;
  }
}

// 16-byte packs when f splits into them and every base pointer is aligned; then every pack is aligned too.
template <typename T>
bool swiglu_packs(int64_t f, std::initializer_list<const void*> ptrs) {
  if (f % kPack16<T> != 0) return false;
  for (const void* p : ptrs)
    if (!aligned16(p)) return false;
  return true;
}

template <typename T>
void launch_swiglu_forward_t(T* out, const T* in, int64_t rows, int64_t f, cudaStream_t stream) {
  constexpr int kN = kPack16<T>;
  if (swiglu_packs<T>(f, {out, in})) {
    swiglu_forward_kernel<kN><<<map_blocks(rows * f / kN), kMapThreads, 0, stream>>>(out, in, rows, f);
  } else {
    swiglu_forward_kernel<1><<<map_blocks(rows * f), kMapThreads, 0, stream>>>(out, in, rows, f);
  }
}

template <typename T>
void launch_swiglu_backward_t(T* din, const T* dout, const T* in, int64_t rows, int64_t f,
                              cudaStream_t stream) {
  constexpr int kN = kPack16<T>;
  if (swiglu_packs<T>(f, {din, dout, in})) {
    swiglu_backward_kernel<kN><<<map_blocks(rows * f / kN), kMapThreads, 0, stream>>>(din, dout, in, rows, f);
  } else {
    swiglu_backward_kernel<1><<<map_blocks(rows * f), kMapThreads, 0, stream>>>(din, dout, in, rows, f);
  }
}

}  // namespace

cudaError_t launch_gelu_forward(void* out, const void* in, int64_t n, DType dtype, cudaStream_t stream) {
  TRIDENT_KERNEL_DISPATCH(
      dtype, launch_unary_map(static_cast<T*>(out), static_cast<const T*>(in), n, GeluForward{}, stream));
  return cudaGetLastError();
}

cudaError_t launch_gelu_backward(void* din, const void* dout, const void* in, int64_t n, DType dtype,
                                 cudaStream_t stream) {
  TRIDENT_KERNEL_DISPATCH(dtype, launch_binary_map(static_cast<T*>(din), static_cast<const T*>(dout),
                                                   static_cast<const T*>(in), n, GeluBackward{}, stream));
  return cudaGetLastError();
}

cudaError_t launch_swiglu_forward(void* out, const void* in, int64_t rows, int64_t f, DType dtype,
                                  cudaStream_t stream) {
  if (rows == 0 || f == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype, launch_swiglu_forward_t(static_cast<T*>(out), static_cast<const T*>(in), rows, f, stream));
  return cudaGetLastError();
}

cudaError_t launch_swiglu_backward(void* din, const void* dout, const void* in, int64_t rows, int64_t f,
                                   DType dtype, cudaStream_t stream) {
  if (rows == 0 || f == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(dtype, launch_swiglu_backward_t(static_cast<T*>(din), static_cast<const T*>(dout),
                                                          static_cast<const T*>(in), rows, f, stream));
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
