#pragma once
// Launchers for core/ops/cuda/activation.cu: raw device pointers, element counts, the compute stream.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

// out (n) = gelu(in), tanh form.
cudaError_t launch_gelu_forward(void* out, const void* in, int64_t n, DType dtype, cudaStream_t stream);
// din (n) = dout * gelu'(in).
cudaError_t launch_gelu_backward(void* din, const void* dout, const void* in, int64_t n, DType dtype,
                                 cudaStream_t stream);
// out (rows, f) = silu(gate) * up, in (rows, 2f) = [gate | up].
cudaError_t launch_swiglu_forward(void* out, const void* in, int64_t rows, int64_t f, DType dtype,
                                  cudaStream_t stream);
// din (rows, 2f) = [dgate | dup], all of it written.
cudaError_t launch_swiglu_backward(void* din, const void* dout, const void* in, int64_t rows, int64_t f,
                                   DType dtype, cudaStream_t stream);

}  // namespace trident::ops::cuda
