#pragma once
// Launchers for core/ops/cuda/bias.cu, a bias outside the GEMM: raw device pointers, sizes,
// the compute stream.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor/dtype.h"

namespace trident::ops::cuda {

// out (rows, c) = bias (c) in every row (the bias seeds the output when the GEMM cannot add it itself).
cudaError_t launch_broadcast_rows(void* out, const void* bias, int64_t rows, int64_t c, DType dtype,
                                  cudaStream_t stream);

// out (rows, c) += bias (c) in every row (ops::add_bias), in f32 with one rounding.
cudaError_t launch_add_rows(void* out, const void* bias, int64_t rows, int64_t c, DType dtype,
                            cudaStream_t stream);

// Row chunks of the column-sum's first pass: size its `partial` scratch (chunks, c) f32 with it. Depends on
// the shape only, so the summation order does too.
int64_t column_sum_chunks(int64_t rows, int64_t c);
// dbias (c) += column sums of dout (rows, c), summed in f32 through partial (column_sum_chunks, c) f32 and
// rounded into dbias once. Deterministic.
cudaError_t launch_accumulate_column_sums(void* dbias, const void* dout, float* partial, int64_t rows,
                                          int64_t c, DType dtype, cudaStream_t stream);

}  // namespace trident::ops::cuda
