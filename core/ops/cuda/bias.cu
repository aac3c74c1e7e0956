// The linear layer's bias outside the GEMM epilogue: dbias += column sums of dout (cuBLASLt's BGRAD epilogues
// overwrite their output, and the contract accumulates), the broadcast that seeds a GEMM's output with the
// bias when no cuBLASLt algorithm takes the bias epilogue, and ops::add_bias (a bias added after a
// collective, as the row-parallel linear does).
#include <algorithm>

#include "core/ops/cuda/bias_launch.h"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

constexpr int kColTile = 32;  // columns per block: one warp reads 32 consecutive elements of a row
constexpr int kRowLanes = 8;  // warps per block, each on its own rows

// out (rows, c) = bias (c) per row.
template <typename T>
__global__ void broadcast_rows_kernel(T* __restrict__ out, const T* __restrict__ bias, int64_t rows,
                                      int64_t c) {
  const int64_t total = rows * c;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride)
    out[i] = bias[i % c];
}

// out (rows, c) += bias (c) per row, added in f32 and rounded once.
template <typename T>
__global__ void add_rows_kernel(T* __restrict__ out, const T* __restrict__ bias, int64_t rows, int64_t c) {
  const int64_t total = rows * c;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride)
    out[i] = from_f32<T>(to_f32(out[i]) + to_f32(bias[i % c]));
}

// partial (gridDim.y, c) f32: block (x, y) sums rows [y * rows_per_chunk, (y + 1) * rows_per_chunk) of dout
// for its 32 columns. Warp w takes rows w, w + 8, ...; the 8 warp sums are then added in warp order.
template <typename T>
__global__ void column_partial_sums_kernel(float* __restrict__ partial, const T* __restrict__ dout,
                                           int64_t rows, int64_t c, int64_t rows_per_chunk) {
  __shared__ float sums[kRowLanes][kColTile];
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = std::min(rows, r0 + rows_per_chunk);
  float acc = 0.0f;
  if (col < c)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) acc += to_f32(dout[r * c + col]);
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < c) {
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kRowLanes; ++w) total += sums[w][threadIdx.x];
    partial[blockIdx.y * c + col] = total;
  }
}

// dbias (c) += sum over chunks of partial (chunks, c), in chunk order; one rounding into dbias.
template <typename T>
__global__ void add_column_sums_kernel(T* __restrict__ dbias, const float* __restrict__ partial,
                                       int64_t chunks, int64_t c) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= c) return;
  float total = 0.0f;
  for (int64_t k = 0; k < chunks; ++k) total += partial[k * c + col];
  dbias[col] = from_f32<T>(to_f32(dbias[col]) + total);
}

}  // namespace

cudaError_t launch_broadcast_rows(void* out, const void* bias, int64_t rows, int64_t c, DType dtype,
                                  cudaStream_t stream) {
  if (rows == 0 || c == 0) return cudaSuccess;
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(blocks_for(rows * c, 256), 65536));
  TRIDENT_KERNEL_DISPATCH(dtype, broadcast_rows_kernel<T><<<blocks, 256, 0, stream>>>(
                                     static_cast<T*>(out), static_cast<const T*>(bias), rows, c));
  return cudaGetLastError();
}

cudaError_t launch_add_rows(void* out, const void* bias, int64_t rows, int64_t c, DType dtype,
                            cudaStream_t stream) {
  if (rows == 0 || c == 0) return cudaSuccess;
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(blocks_for(rows * c, 256), 65536));
  TRIDENT_KERNEL_DISPATCH(dtype, add_rows_kernel<T><<<blocks, 256, 0, stream>>>(
                                     static_cast<T*>(out), static_cast<const T*>(bias), rows, c));
  return cudaGetLastError();
}

int64_t column_sum_chunks(int64_t rows, int64_t c) {
  // Enough blocks to fill the GPU (about 1024), but at least 32 rows per chunk and at most 1024 chunks.
  const int64_t col_blocks = std::max<int64_t>(1, (c + kColTile - 1) / kColTile);
  const int64_t want = (1024 + col_blocks - 1) / col_blocks;
  const int64_t most = std::max<int64_t>(1, (rows + 31) / 32);
  return std::clamp<int64_t>(std::min(want, most), 1, 1024);
}

cudaError_t launch_accumulate_column_sums(void* dbias, const void* dout, float* partial, int64_t rows,
                                          int64_t c, DType dtype, cudaStream_t stream) {
  if (rows == 0 || c == 0) return cudaSuccess;
  const int64_t chunks = column_sum_chunks(rows, c);
  const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
  const dim3 grid(static_cast<unsigned int>((c + kColTile - 1) / kColTile),
                  static_cast<unsigned int>(chunks));
  const dim3 block(kColTile, kRowLanes);
  TRIDENT_KERNEL_DISPATCH(dtype, column_partial_sums_kernel<T><<<grid, block, 0, stream>>>(
                                     partial, static_cast<const T*>(dout), rows, c, rows_per_chunk);
                          add_column_sums_kernel<T><<<blocks_for(c, 256), 256, 0, stream>>>(
                              static_cast<T*>(dbias), partial, chunks, c));
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
