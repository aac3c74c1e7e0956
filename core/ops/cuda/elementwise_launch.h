#pragma once
// Launchers for core/ops/cuda/elementwise.cu: raw device pointers, element counts, the compute stream.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

// out (n) = a + b; out may alias a or b.
cudaError_t launch_add(void* out, const void* a, const void* b, int64_t n, DType dtype, cudaStream_t stream);
// x (n) *= s, with s rounded to f32.
cudaError_t launch_scale(void* x, int64_t n, double s, DType dtype, cudaStream_t stream);

// Partial sums the first pass of sum_squares writes: size the `partial` scratch with it.
int sum_squares_blocks(int64_t n);
// result (1) f64 = sum of x (n)^2, through partial (sum_squares_blocks(n)) f64; n > 0.
cudaError_t launch_sum_squares(double* result, double* partial, const void* x, int64_t n, DType dtype,
                               cudaStream_t stream);

}  // namespace trident::ops::cuda
