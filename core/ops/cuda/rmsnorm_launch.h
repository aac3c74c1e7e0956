#pragma once
// Launchers of the RMSNorm kernels (rmsnorm.cu): raw device pointers, element type `dtype` (f32, bf16, f16)
// for everything but the f32 rstd. Shapes: rows (N, C), weight (C), rstd (N).
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

cudaError_t launch_rmsnorm_forward(void* out, float* rstd, const void* in, const void* weight, int64_t n,
                                   int64_t c, float eps, DType dtype, cudaStream_t stream);
// residual = x + y (may alias x or y), then the norm of it, in one kernel.
cudaError_t launch_residual_rmsnorm_forward(void* residual, void* out, float* rstd, const void* x,
                                            const void* y, const void* weight, int64_t n, int64_t c,
                                            float eps, DType dtype, cudaStream_t stream);

// Row chunks of the dweight reduction: the backward needs chunks * C floats of `partials` scratch when
// dweight is given.
int64_t rmsnorm_dweight_chunks(int64_t n, int64_t c);

// din written (skipped when null); dweight accumulated (skipped when null).
cudaError_t launch_rmsnorm_backward(void* din, void* dweight, float* partials, const void* dout,
                                    const void* in, const void* weight, const float* rstd, int64_t n,
                                    int64_t c, DType dtype, cudaStream_t stream);

}  // namespace trident::ops::cuda
