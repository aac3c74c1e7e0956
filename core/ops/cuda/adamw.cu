// AdamW on CUDA with torch.optim.AdamW semantics: one fused pass over flat f32 buffers, computed in the order
// of the CPU op (core/ops/cpu/adamw.cpp) so that both round alike.
#include <algorithm>

#include "core/ops/cuda/adamw_launch.h"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ void adamw_update(float& p, float g, float& m, float& v, const AdamWScalars& s) {
  p *= s.decay;  // decoupled weight decay comes first
  m = s.lerp_from_start ? m + s.w1 * (g - m) : g - (g - m) * (1.0f - s.w1);
  v = v * s.beta2 + s.w2 * g * g;
  const float denom = sqrtf(v) / s.bias_correction2_sqrt + s.eps;
  p += -s.step_size * (m / denom);  // addcdiv_(m, denom, value=-step_size)
}

// kVec = 4: float4 loads and stores, for buffers that are all 16-byte aligned; kVec = 1 otherwise.
template <int kVec>
__global__ void adamw_kernel(float* __restrict__ param, const float* __restrict__ grad, float* __restrict__ m,
                             float* __restrict__ v, int64_t n, AdamWScalars s) {
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t packs = n / kVec;
  if constexpr (kVec == 4) {
    for (int64_t i = tid; i < packs; i += stride) {
      float4 p = reinterpret_cast<float4*>(param)[i];
      const float4 g = reinterpret_cast<const float4*>(grad)[i];
      float4 mm = reinterpret_cast<float4*>(m)[i];
      float4 vv = reinterpret_cast<float4*>(v)[i];
      adamw_update(p.x, g.x, mm.x, vv.x, s);
      adamw_update(p.y, g.y, mm.y, vv.y, s);
      adamw_update(p.z, g.z, mm.z, vv.z, s);
      adamw_update(p.w, g.w, mm.w, vv.w, s);
      reinterpret_cast<float4*>(param)[i] = p;
      reinterpret_cast<float4*>(m)[i] = mm;
      reinterpret_cast<float4*>(v)[i] = vv;
    }
  } else {
    for (int64_t i = tid; i < packs; i += stride) adamw_update(param[i], grad[i], m[i], v[i], s);
  }
  const int64_t i = packs * kVec + tid;  // the tail, fewer than kVec elements
  if (i < n) adamw_update(param[i], grad[i], m[i], v[i], s);
}

unsigned int grid_for(int64_t work) {
  return static_cast<unsigned int>(
      std::max<int64_t>(1, std::min<int64_t>(blocks_for(work, kThreads), 65536)));
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

cudaError_t launch_adamw(float* param, const float* grad, float* m, float* v, int64_t n,
                         const AdamWScalars& s, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (aligned16(param) && aligned16(grad) && aligned16(m) && aligned16(v)) {
    adamw_kernel<4><<<grid_for((n + 3) / 4), kThreads, 0, stream>>>(param, grad, m, v, n, s);
  } else {
    adamw_kernel<1><<<grid_for(n), kThreads, 0, stream>>>(param, grad, m, v, n, s);
  }
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
