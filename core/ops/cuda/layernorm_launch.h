#pragma once
// Launchers of the LayerNorm kernels (layernorm.cu): raw device pointers, element type `dtype` (f32, bf16,
// f16) for everything but the f32 statistics. Shapes: rows (N, C), weight/bias (C), mean/rstd (N).
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

// bias may be null.
cudaError_t launch_layernorm_forward(void* out, float* mean, float* rstd, const void* in, const void* weight,
                                     const void* bias, int64_t n, int64_t c, float eps, DType dtype,
                                     cudaStream_t stream);
// residual = x + y (may alias x or y), then the norm of it, in one kernel.
cudaError_t launch_residual_layernorm_forward(void* residual, void* out, float* mean, float* rstd,
                                              const void* x, const void* y, const void* weight,
                                              const void* bias, int64_t n, int64_t c, float eps, DType dtype,
                                              cudaStream_t stream);

// Row chunks of the dweight/dbias reduction: the backward needs 2 * chunks * C floats of `partials` scratch
// when dweight or dbias is given.
int64_t layernorm_dparams_chunks(int64_t n, int64_t c);

// din written (skipped when null); dweight, dbias accumulated (each skipped when null).
cudaError_t launch_layernorm_backward(void* din, void* dweight, void* dbias, float* partials,
                                      const void* dout, const void* in, const void* weight, const float* mean,
                                      const float* rstd, int64_t n, int64_t c, DType dtype,
                                      cudaStream_t stream);

}  // namespace trident::ops::cuda
