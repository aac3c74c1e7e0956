// Rotary position embedding on CUDA, rotate-half pairing (i, i + D/2): a per-call (T, D/2) cos/sin table
// built in double and rounded to f32 (as accurate as the CPU's double table at any position), then one
// thread per pair.
#include <algorithm>

#include "core/ops/cuda/kernel_util.cuh"
#include "core/ops/cuda/rope_launch.h"

namespace trident::ops::cuda {
namespace {

// table (T, D/2) of (cos, sign * sin) of (pos0 + t) * theta^(-2i/D). Computed in double because at T = 2048
// the f32 angle alone would be off by ~1e-4 rad; the heads and batch then share the table (L2 holds it).
__global__ void rope_table_kernel(float2* table, int64_t t, int64_t half, int64_t d, double theta,
                                  int64_t pos0, double sign) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= t * half) return;
  const int64_t ti = k / half, i = k % half;
  const double freq = pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
  const double angle = static_cast<double>(pos0 + ti) * freq;
  double s, c;
  sincos(angle, &s, &c);
  table[k] = make_float2(static_cast<float>(c), static_cast<float>(sign * s));
}

// One thread per (b, t, h, i) pair of x (B, T, H, D). Both halves are read before either is written, so out
// may alias in.
template <typename T>
__global__ void rope_kernel(T* out, const T* in, const float2* table, int64_t pairs, int64_t t, int64_t h,
                            int64_t half) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < pairs; k += stride) {
    const int64_t i = k % half;
    const int64_t row = k / half;  // (b * T + t) * H + h
    const int64_t ti = (row / h) % t;
    const int64_t base = row * 2 * half;  // row * D
    const float2 cs = table[ti * half + i];
    const float x1 = to_f32(in[base + i]), x2 = to_f32(in[base + i + half]);
    out[base + i] = from_f32<T>(x1 * cs.x - x2 * cs.y);
    out[base + i + half] = from_f32<T>(x2 * cs.x + x1 * cs.y);
  }
}

}  // namespace

cudaError_t launch_rope(void* out, const void* in, float* table, int64_t b, int64_t t, int64_t h, int64_t d,
                        double theta, int64_t pos0, double sign, DType dtype, cudaStream_t stream) {
  const int64_t half = d / 2;
  const int64_t pairs = b * t * h * half;
  if (pairs == 0) return cudaSuccess;
  float2* cs = reinterpret_cast<float2*>(table);
  rope_table_kernel<<<blocks_for(t * half, 256), 256, 0, stream>>>(cs, t, half, d, theta, pos0, sign);
  // A grid-stride loop over at most 64K blocks: enough to fill the GPU, and no grid-size overflow.
  const unsigned int blocks = static_cast<unsigned int>(std::min<int64_t>(blocks_for(pairs, 256), 65536));
  TRIDENT_KERNEL_DISPATCH(dtype, rope_kernel<T><<<blocks, 256, 0, stream>>>(
                                     static_cast<T*>(out), static_cast<const T*>(in), cs, pairs, t, h, half));
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
