#pragma once
// Launcher for core/ops/cuda/adamw.cu: raw device pointers, element counts, the compute stream.
#include <cuda_runtime.h>

#include <cstdint>

namespace trident::ops::cuda {

// The step's scalars, computed on the host in double as PyTorch does and rounded to f32 once.
struct AdamWScalars {
  float decay;                  // 1 - lr * weight_decay
  float w1;                     // 1 - beta1: the weight of m.lerp_(g, w1)
  float beta2, w2;              // beta2 and 1 - beta2
  float step_size;              // lr / (1 - beta1^step)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^step)
  float eps;
  bool lerp_from_start;  // torch.lerp's formula for weights below 0.5
};

// One fused pass over the flat f32 buffers param, grad, m, v (n each): param, m and v updated in place.
cudaError_t launch_adamw(float* param, const float* grad, float* m, float* v, int64_t n,
                         const AdamWScalars& s, cudaStream_t stream);

}  // namespace trident::ops::cuda
