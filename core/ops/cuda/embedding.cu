// Token embedding lookup and its scatter-add backward on CUDA.
//
// Backward is deterministic and rounds once: the tokens are sorted by id (a stable radix sort of (id,
// position) pairs), so each run of equal ids lists its positions in order; one block per run and column slice
// then adds the run's dout rows to dweight in position order, in f32, and stores each element once. That is
// the CPU op's order exactly (it adds token by token into an f32 row), needs O(N) scratch rather than a (V,
// C) f32 copy, and uses no float atomics, whose order would change the gradient from run to run.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "core/ops/cuda/embedding_launch.h"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

// Keeps the lowest position among the bad tokens (the high bits), with its id.
__device__ __forceinline__ void record_bad(unsigned long long* bad, int64_t position, int32_t id) {
  atomicMin(bad, (static_cast<unsigned long long>(position) << 32) | static_cast<uint32_t>(id));
}

// The table's rows: the ids [start, start + rows) of a vocabulary of `vocab`.
struct TableRange {
  int64_t start, rows, vocab;
};

// out (n, row_words) = weight (rows, row_words)[tokens - start], zeros for ids outside the table's range: one
// block per row, copying W-sized words (16 bytes when rows and pointers allow, else one element). A bad
// token's row is skipped and reported.
template <typename W>
__global__ void embedding_forward_kernel(W* __restrict__ out, const int32_t* __restrict__ tokens,
                                         const W* __restrict__ weight, int64_t n, TableRange table,
                                         int64_t row_words, unsigned long long* bad) {
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const int32_t id = tokens[r];
    if (id < 0 || id >= table.vocab) {
      if (threadIdx.x == 0) record_bad(bad, r, id);
      continue;
    }
    const int64_t row = id - table.start;
    W* dst = out + r * row_words;
    if (row < 0 || row >= table.rows) {
      for (int64_t j = threadIdx.x; j < row_words; j += blockDim.x) dst[j] = W{};  // all-zero bits: +0
      continue;
    }
    const W* src = weight + row * row_words;
    for (int64_t j = threadIdx.x; j < row_words; j += blockDim.x) dst[j] = src[j];
  }
}

// positions (n) = 0, 1, ..., n-1: the values the sort carries along; checks every token on the way.
__global__ void positions_and_check_kernel(int32_t* positions, const int32_t* __restrict__ tokens, int64_t n,
                                           int64_t vocab, unsigned long long* bad) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    positions[i] = static_cast<int32_t>(i);
    const int32_t id = tokens[i];
    if (id < 0 || id >= vocab) record_bad(bad, i, id);
  }
}

// The end of the run of `id` that starts at `begin`: the first index whose id is greater (ids sorted
// ascending).
__device__ __forceinline__ int64_t run_end(const int32_t* __restrict__ ids, int64_t begin, int64_t n,
                                           int32_t id) {
  int64_t lo = begin, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (ids[mid] <= id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// dweight (rows, c) += dout (n, c) rows, by runs of sorted_ids (n) with their positions sorted_pos (n), for
// the ids in [start, start + rows). Block (s, y) works only if s starts a run of such ids; it owns that run's
// dweight row, so no two blocks touch one element. The run's bounds are known before the sum, so its loads
// can be in flight together while the adds keep their order.
template <typename T>
__global__ void embedding_backward_kernel(T* dweight, const T* __restrict__ dout,
                                          const int32_t* __restrict__ sorted_ids,
                                          const int32_t* __restrict__ sorted_pos, int64_t n, int64_t start,
                                          int64_t rows, int64_t c, const unsigned long long* bad) {
  if (*bad != kNoBadToken) return;  // the op is refused as a whole: dweight stays as it was
  const int64_t s = blockIdx.x;
  const int32_t id = sorted_ids[s];
  if (s > 0 && sorted_ids[s - 1] == id) return;
  if (id < start || id >= start + rows) return;           // another rank's id: no gradient here
  const int64_t end = run_end(sorted_ids, s + 1, n, id);  // every id is valid here, so the order is total
  T* row = dweight + (id - start) * c;
  const int64_t stride = static_cast<int64_t>(gridDim.y) * blockDim.x;
  for (int64_t col = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x; col < c; col += stride) {
    float acc = to_f32(row[col]);
#pragma unroll 4
    for (int64_t j = s; j < end; ++j) acc += to_f32(dout[sorted_pos[j] * c + col]);
    row[col] = from_f32<T>(acc);
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Threads for a row of `words`: whole warps, at most 256.
unsigned int row_threads(int64_t words) {
  return static_cast<unsigned int>(std::clamp<int64_t>((words + 31) / 32 * 32, 32, 256));
}

template <typename W>
void launch_forward_words(void* out, const int32_t* tokens, const void* weight, int64_t n, TableRange table,
                          int64_t row_words, unsigned long long* bad, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned int>(std::min<int64_t>(n, 1 << 20));
  embedding_forward_kernel<W><<<blocks, row_threads(row_words), 0, stream>>>(
      static_cast<W*>(out), tokens, static_cast<const W*>(weight), n, table, row_words, bad);
}

// Bits of the ids the sort looks at: enough for [0, vocab). Bad ids sort anywhere, but then nothing is added.
int key_bits(int64_t vocab) {
  int bits = 1;
  while (bits < 32 && (int64_t{1} << bits) < vocab) ++bits;
  return bits;
}

size_t align256(size_t bytes) {
  return (bytes + 255) / 256 * 256;
}

size_t cub_temp_bytes(int64_t n, int64_t vocab) {
  size_t bytes = 0;
  // A size query: launches nothing and cannot fail for valid sizes.
  (void)cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const int32_t*>(nullptr),
                                        static_cast<int32_t*>(nullptr), static_cast<const int32_t*>(nullptr),
                                        static_cast<int32_t*>(nullptr), static_cast<int>(n), 0,
                                        key_bits(vocab));
  return bytes;
}

}  // namespace

cudaError_t launch_embedding_forward(void* out, const int32_t* tokens, const void* weight, int64_t n,
                                     int64_t vocab_start, int64_t rows, int64_t vocab, int64_t c, DType dtype,
                                     unsigned long long* bad, cudaStream_t stream) {
  const TableRange table{vocab_start, rows, vocab};
  cudaError_t status = cudaMemsetAsync(bad, 0xff, sizeof(unsigned long long), stream);  // kNoBadToken
  if (status != cudaSuccess || n == 0) return status;
  const int64_t row_bytes = c * static_cast<int64_t>(dtype_size(dtype));
  if (row_bytes % 16 == 0 && aligned16(out) && aligned16(weight)) {
    launch_forward_words<uint4>(out, tokens, weight, n, table, row_bytes / 16, bad, stream);
  } else if (dtype_size(dtype) == 4) {
    launch_forward_words<uint32_t>(out, tokens, weight, n, table, c, bad, stream);
  } else if (dtype_size(dtype) == 2) {
    launch_forward_words<uint16_t>(out, tokens, weight, n, table, c, bad, stream);
  } else {
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

size_t embedding_backward_scratch_bytes(int64_t n, int64_t vocab) {
  const size_t ids = align256(static_cast<size_t>(n) * sizeof(int32_t));
  return 3 * ids + cub_temp_bytes(n, vocab);  // sorted ids, positions, sorted positions, CUB's temp
}

cudaError_t launch_embedding_backward(void* dweight, const void* dout, const int32_t* tokens, int64_t n,
                                      int64_t vocab_start, int64_t rows, int64_t vocab, int64_t c,
                                      DType dtype, void* scratch, size_t scratch_bytes,
                                      unsigned long long* bad, cudaStream_t stream) {
  cudaError_t status = cudaMemsetAsync(bad, 0xff, sizeof(unsigned long long), stream);  // kNoBadToken
  if (status != cudaSuccess || n == 0) return status;
  const size_t ids_bytes = align256(static_cast<size_t>(n) * sizeof(int32_t));
  char* base = static_cast<char*>(scratch);
  auto* sorted_ids = reinterpret_cast<int32_t*>(base);                  // (n)
  auto* positions = reinterpret_cast<int32_t*>(base + ids_bytes);       // (n)
  auto* sorted_pos = reinterpret_cast<int32_t*>(base + 2 * ids_bytes);  // (n)
  void* temp = base + 3 * ids_bytes;
  size_t temp_bytes = cub_temp_bytes(n, vocab);
  if (scratch_bytes < 3 * ids_bytes + temp_bytes) return cudaErrorInvalidValue;

  const auto check_blocks = static_cast<unsigned int>(std::min<int64_t>(blocks_for(n, 256), 65536));
  positions_and_check_kernel<<<check_blocks, 256, 0, stream>>>(positions, tokens, n, vocab, bad);
  if (c == 0) return cudaGetLastError();
  status = cub::DeviceRadixSort::SortPairs(temp, temp_bytes, tokens, sorted_ids, positions, sorted_pos,
                                           static_cast<int>(n), 0, key_bits(vocab), stream);
  if (status != cudaSuccess) return status;
  const unsigned int threads = row_threads(c);
  const dim3 grid(static_cast<unsigned int>(n),
                  static_cast<unsigned int>(std::min<int64_t>((c + threads - 1) / threads, 65535)));
  TRIDENT_KERNEL_DISPATCH(dtype, embedding_backward_kernel<T><<<grid, threads, 0, stream>>>(
                                     static_cast<T*>(dweight), static_cast<const T*>(dout), sorted_ids,
                                     sorted_pos, n, vocab_start, rows, c, bad));
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
