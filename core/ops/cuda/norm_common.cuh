#pragma once
// Pieces shared by the row-norm kernels (layernorm.cu, rmsnorm.cu): the forward's row staging and its launch
// shapes, and the two-kernel deterministic column reduction behind the parameter gradients.
#include <algorithm>
#include <type_traits>

#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda::norm {

// Rows whose f32 copy fits the default 48 KiB of shared memory per block are kept there between the passes;
// longer rows are re-read from global memory (L2 holds them). The 48 KiB limit counts the kernels' static
// shared memory too (the block reduction's scratch), so 1 KiB is left for it: a launch over the limit fails.
constexpr int64_t kMaxCachedRow = (48 * 1024 - 1024) / sizeof(float);

// Column tile and row lanes of the parameter-gradient partial-sum kernel.
constexpr int kTileCols = 32;
constexpr int kRowLanes = 8;

// One row of a norm forward as f32, seen by one thread at its strided elements. The row is normalized as
// stored in T: the residual variant rounds x + y to T first, so out matches the plain norm of residual
// exactly as the CPU reference computes it (add, then norm). residual may alias x or y: each element is read
// and written by one thread, x/y before residual.
template <typename T, bool kResidual, bool kCache>
struct ForwardRow {
  float* cache;  // (C) dynamic shared memory when kCache
  T* residual;   // kResidual only
  const T* x;
  const T* y;  // kResidual only
  int64_t off;

  // First pass: element j (writes residual = x + y, and the cache).
  __device__ __forceinline__ float load(int64_t j) const {
    float v;
    if constexpr (kResidual) {
      const T s = from_f32<T>(to_f32(x[off + j]) + to_f32(y[off + j]));
      residual[off + j] = s;
      v = to_f32(s);
    } else {
      v = to_f32(x[off + j]);
    }
    if constexpr (kCache) cache[j] = v;
    return v;
  }

  // Later passes: element j again; without the cache, the residual is re-read where this thread wrote it.
  __device__ __forceinline__ float value(int64_t j) const {
    if constexpr (kCache) {
      return cache[j];
    } else if constexpr (kResidual) {
      return to_f32(residual[off + j]);
    } else {
      return to_f32(x[off + j]);
    }
  }
};

// Launches a norm forward, one block per row: calls launch(residual, cache, grid, threads, smem) with
// residual and cache as std::bool_constant, for the kernel instance `residual` and the row length pick.
template <typename Launch>
void launch_forward_rows(bool residual, int64_t n, int64_t c, Launch&& launch) {
  const dim3 grid(static_cast<unsigned int>(n));
  const int threads = row_block_threads(c);
  const bool cache = c <= kMaxCachedRow;
  const size_t smem = cache ? static_cast<size_t>(c) * sizeof(float) : 0;
  if (residual) {
    if (cache)
      launch(std::true_type{}, std::true_type{}, grid, threads, smem);
    else
      launch(std::true_type{}, std::false_type{}, grid, threads, smem);
  } else {
    if (cache)
      launch(std::false_type{}, std::true_type{}, grid, threads, smem);
    else
      launch(std::false_type{}, std::false_type{}, grid, threads, smem);
  }
}

// Row chunks of the parameter-gradient column reduction: about 2048 blocks over the (column tiles, chunks)
// grid, and at least 32 rows per chunk.
inline int64_t column_chunks(int64_t n, int64_t c) {
  const int64_t tiles = (c + kTileCols - 1) / kTileCols;
  const int64_t want = (2048 + tiles - 1) / tiles;
  const int64_t most = (n + 31) / 32;
  return std::clamp<int64_t>(std::min(want, most), 1, 1024);
}

// Block (kTileCols, kRowLanes) sums K per-element terms over rows [chunk * rows_per_chunk, ...) for 32
// columns, in a fixed order, into partial (K, chunks, C) (chunk = blockIdx.y, chunks = gridDim.y).
// add_terms(acc, r, i) adds the K terms of row r at element i = r * C + col into acc. Reads are coalesced
// along the row.
template <int K, typename AddTerms>
__global__ void column_partial_sums_kernel(float* partial, AddTerms add_terms, int64_t n, int64_t c,
                                           int64_t rows_per_chunk) {
  __shared__ float lanes[K][kRowLanes][kTileCols];
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kTileCols + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < n ? r0 + rows_per_chunk : n;
  float acc[K] = {};
  if (col < c) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) add_terms(acc, r, r * c + col);
  }
  for (int k = 0; k < K; ++k) lanes[k][threadIdx.y][threadIdx.x] = acc[k];
  __syncthreads();
  if (threadIdx.y == 0 && col < c) {
    for (int k = 0; k < K; ++k) {
      float total = 0.0f;
      for (int lane = 0; lane < kRowLanes; ++lane) total += lanes[k][lane][threadIdx.x];
      partial[(k * static_cast<int64_t>(gridDim.y) + blockIdx.y) * c + col] = total;
    }
  }
}

// One thread per column: sums the chunks' partials (K, chunks, C) in order and adds term k into grad[k]
// (skipped when null), rounding once.
template <int K, typename T>
struct GradColumns {
  T* grad[K];
};
template <int K, typename T>
__global__ void column_sums_add_kernel(GradColumns<K, T> out, const float* partial, int64_t chunks,
                                       int64_t c) {
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= c) return;
  float sum[K] = {};
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    for (int k = 0; k < K; ++k) sum[k] += partial[(k * chunks + chunk) * c + col];
  }
  for (int k = 0; k < K; ++k) {
    if (out.grad[k]) out.grad[k][col] = from_f32<T>(to_f32(out.grad[k][col]) + sum[k]);
  }
}

// Both kernels of the column reduction: grad[k] (C) += the column sums of add_terms' term k over the (N, C)
// rows, through partials (K, column_chunks(n, c), C) f32 scratch.
template <int K, typename T, typename AddTerms>
void launch_column_sums(GradColumns<K, T> grads, float* partials, AddTerms add_terms, int64_t n, int64_t c,
                        cudaStream_t stream) {
  const int64_t chunks = column_chunks(n, c);
  const int64_t rows_per_chunk = (n + chunks - 1) / chunks;
  const dim3 grid(static_cast<unsigned int>((c + kTileCols - 1) / kTileCols),
                  static_cast<unsigned int>(chunks));
  column_partial_sums_kernel<K>
      <<<grid, dim3(kTileCols, kRowLanes), 0, stream>>>(partials, add_terms, n, c, rows_per_chunk);
  column_sums_add_kernel<K, T><<<blocks_for(c, 256), 256, 0, stream>>>(grads, partials, chunks, c);
}

}  // namespace trident::ops::cuda::norm
