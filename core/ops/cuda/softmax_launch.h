#pragma once
// Launchers of the softmax kernels (softmax.cu): raw device pointers to (N, C) rows of element type `dtype`
// (f32, bf16, f16).
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

cudaError_t launch_softmax_forward(void* out, const void* in, int64_t n, int64_t c, DType dtype,
                                   cudaStream_t stream);
cudaError_t launch_softmax_backward(void* din, const void* dout, const void* out, int64_t n, int64_t c,
                                    DType dtype, cudaStream_t stream);

}  // namespace trident::ops::cuda
