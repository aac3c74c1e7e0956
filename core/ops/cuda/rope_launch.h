#pragma once
// Launcher of the RoPE kernels (rope.cu): x (B, T, H, D) of element type `dtype` (f32, bf16, f16) at raw
// device pointers; `table` is (T, D/2, 2) f32 scratch. sign = 1 rotates (forward), -1 undoes it (backward).
// out may alias in.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

cudaError_t launch_rope(void* out, const void* in, float* table, int64_t b, int64_t t, int64_t h, int64_t d,
                        double theta, int64_t pos0, double sign, DType dtype, cudaStream_t stream);

}  // namespace trident::ops::cuda
