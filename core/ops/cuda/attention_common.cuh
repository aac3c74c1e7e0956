#pragma once
// Pieces shared by the causal grouped-query attention kernels (attention_forward.cu, attention_backward.cu):
// block-wide matrix products on shared memory, tile loads, the shared-memory layouts of both kernels and the
// launch-side checks. Everything sits in an anonymous namespace: each .cu gets its own internal copy, as when
// both kernels shared one file.
//
// Matrix products run on shared-memory tiles: bf16/f16 through tensor cores (nvcuda::wmma m16n16k16, f32
// accumulate), f32 through register-blocked FMA so the f32 path matches the CPU to rounding. Scores, the
// output accumulator and dK/dV live in shared f32; the softmax runs in the log2 domain (exp2f).
#include <mma.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Row padding of element tiles: 16 bytes keeps every row 16-byte aligned (vector stores, wmma's leading
// dimension must be a multiple of 8 halves / 4 floats) and shifts consecutive rows across banks.
template <typename T>
constexpr int kPad = 16 / static_cast<int>(sizeof(T));
constexpr int kPadF32 = 4;

constexpr size_t align128(size_t bytes) {
  return (bytes + 127) & ~size_t(127);
}

// ---- Block-wide matrix products on shared memory ----
// c (M, N; ldc) = (or += when kAccumulate) A (M, K) B (K, N). A is stored as (M, K; lda), or as (K, M; lda)
// when kTransA; B as (K, N; ldb), or as (N, K; ldb) when kTransB. All threads of the block take part; no
// synchronisation inside (the caller syncs around shared tiles). Each thread / warp only reads and writes its
// own elements of c, so c may be read-modify-written in place.

// f32: each thread owns a (M/8, N/16) strided patch of c, so a warp's loads of B hit consecutive columns.
template <int M, int N, int K, bool kTransA, bool kTransB, bool kAccumulate>
__device__ __forceinline__ void block_mm_fma(float* c, int ldc, const float* a, int lda, const float* b,
                                             int ldb) {
  constexpr int TX = 16, TY = kThreads / TX;
  static_assert(M % TY == 0 && N % TX == 0, "tile does not split over the block");
  constexpr int RM = M / TY, RN = N / TX;
  const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
  float acc[RM][RN];
#pragma unroll
  for (int i = 0; i < RM; ++i)
#pragma unroll
    for (int j = 0; j < RN; ++j) acc[i][j] = kAccumulate ? c[(ty + TY * i) * ldc + tx + TX * j] : 0.0f;
#pragma unroll 4
  for (int kk = 0; kk < K; ++kk) {
    float av[RM], bv[RN];
#pragma unroll
    for (int i = 0; i < RM; ++i) {
      const int row = ty + TY * i;
      av[i] = kTransA ? a[kk * lda + row] : a[row * lda + kk];
    }
#pragma unroll
    for (int j = 0; j < RN; ++j) {
      const int col = tx + TX * j;
      bv[j] = kTransB ? b[col * ldb + kk] : b[kk * ldb + col];
    }
#pragma unroll
    for (int i = 0; i < RM; ++i)
#pragma unroll
      for (int j = 0; j < RN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
  }
#pragma unroll
  for (int i = 0; i < RM; ++i)
#pragma unroll
    for (int j = 0; j < RN; ++j) c[(ty + TY * i) * ldc + tx + TX * j] = acc[i][j];
}

// bf16/f16: tensor cores. A warp computes a strip of WN 16x16 tiles of c, reusing its A fragment across them.
template <int M, int N, int K, bool kTransA, bool kTransB, bool kAccumulate, typename T>
__device__ __forceinline__ void block_mm_wmma(float* c, int ldc, const T* a, int lda, const T* b, int ldb) {
  using namespace nvcuda;
  static_assert(M % 16 == 0 && N % 16 == 0 && K % 16 == 0, "wmma tiles are 16 x 16 x 16");
  using LayoutA = std::conditional_t<kTransA, wmma::col_major, wmma::row_major>;
  using LayoutB = std::conditional_t<kTransB, wmma::col_major, wmma::row_major>;
  constexpr int TM = M / 16, TN = N / 16;
  constexpr int WN = TN % 2 == 0 ? 2 : 1;  // tiles per warp strip
  constexpr int kStrips = TM * (TN / WN);
  const int warp = threadIdx.x / 32;
  for (int strip = warp; strip < kStrips; strip += kWarps) {
    const int ti = strip / (TN / WN), tj0 = (strip % (TN / WN)) * WN;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[WN];
#pragma unroll
    for (int w = 0; w < WN; ++w) {
      if (kAccumulate)
        wmma::load_matrix_sync(acc[w], c + ti * 16 * ldc + (tj0 + w) * 16, ldc, wmma::mem_row_major);
      else
        wmma::fill_fragment(acc[w], 0.0f);
    }
#pragma unroll
    for (int kk = 0; kk < K / 16; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, LayoutA> fa;
      // (i, k) of A sits at a[k * lda + i] when transposed: a col-major fragment.
      wmma::load_matrix_sync(fa, kTransA ? a + kk * 16 * lda + ti * 16 : a + ti * 16 * lda + kk * 16, lda);
#pragma unroll
      for (int w = 0; w < WN; ++w) {
        const int tj = tj0 + w;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LayoutB> fb;
        wmma::load_matrix_sync(fb, kTransB ? b + tj * 16 * ldb + kk * 16 : b + kk * 16 * ldb + tj * 16, ldb);
        wmma::mma_sync(acc[w], fa, fb, acc[w]);
      }
    }
#pragma unroll
    for (int w = 0; w < WN; ++w)
      wmma::store_matrix_sync(c + ti * 16 * ldc + (tj0 + w) * 16, acc[w], ldc, wmma::mem_row_major);
  }
}

template <int M, int N, int K, bool kTransA, bool kTransB, bool kAccumulate, typename T>
__device__ __forceinline__ void block_mm(float* c, int ldc, const T* a, int lda, const T* b, int ldb) {
  if constexpr (std::is_same_v<T, float>)
    block_mm_fma<M, N, K, kTransA, kTransB, kAccumulate>(c, ldc, a, lda, b, ldb);
  else
    block_mm_wmma<M, N, K, kTransA, kTransB, kAccumulate>(c, ldc, a, lda, b, ldb);
}

// ---- Tile loads ----
// s (R, DP; lds) = rows [0, rows) of g (row stride `stride` elements, D valid columns); rows past `rows` and
// columns past D are zero, so products over the padded head dim and the padded key rows stay exact. `vec`:
// D is a multiple of 16 bytes and g 16-byte aligned, so whole uint4 chunks move at once.
template <typename T, int R, int DP>
__device__ __forceinline__ void load_tile(T* s, int lds, const T* g, int64_t stride, int rows, int d,
                                          bool vec) {
  if (vec) {
    constexpr int kVec = 16 / sizeof(T);
    constexpr int kChunks = DP / kVec;  // per row
    for (int idx = threadIdx.x; idx < R * kChunks; idx += kThreads) {
      const int r = idx / kChunks, col = (idx % kChunks) * kVec;
      uint4 chunk = make_uint4(0u, 0u, 0u, 0u);
      if (r < rows && col < d) chunk = *reinterpret_cast<const uint4*>(g + r * stride + col);
      *reinterpret_cast<uint4*>(s + r * lds + col) = chunk;
    }
  } else {
    for (int idx = threadIdx.x; idx < R * DP; idx += kThreads) {
      const int r = idx / DP, col = idx % DP;
      s[r * lds + col] = (r < rows && col < d) ? g[r * stride + col] : from_f32<T>(0.0f);
    }
  }
}

template <int R, int C>
__device__ __forceinline__ void zero_f32(float* s, int lds) {
  for (int idx = threadIdx.x; idx < R * C; idx += kThreads) s[(idx / C) * lds + idx % C] = 0.0f;
}

// ---- Shared-memory layouts ----

// Shared layout of one forward block (byte offsets, 128-byte aligned for wmma's 256-bit pointer rule).
template <typename T, int DP, int BR, int BC>
struct FwdSmem {
  static constexpr int kLdT = DP + kPad<T>;                             // q, k, v tiles
  static constexpr int kLdS = BC + kPadF32;                             // scores, f32
  static constexpr int kLdP = BC + kPad<T>;                             // probabilities
  static constexpr int kLdO = DP + kPadF32;                             // output accumulator, f32
  static constexpr size_t q = 0;                                        // (BR, DP) T
  static constexpr size_t k = align128(q + BR * kLdT * sizeof(T));      // (BC, DP) T
  static constexpr size_t v = align128(k + BC * kLdT * sizeof(T));      // (BC, DP) T
  static constexpr size_t s = align128(v + BC * kLdT * sizeof(T));      // (BR, BC) f32
  static constexpr size_t p = align128(s + BR * kLdS * sizeof(float));  // (BR, BC) T
  static constexpr size_t o = align128(p + BR * kLdP * sizeof(T));      // (BR, DP) f32
  static constexpr size_t bytes = align128(o + BR * kLdO * sizeof(float));
};

template <typename T, int DP, int BR, int BC>
struct BwdSmem {
  static constexpr int kLdT = DP + kPad<T>;                                // k, v, q, dout tiles
  static constexpr int kLdS = BC + kPadF32;                                // scores and dP, f32
  static constexpr int kLdP = BC + kPad<T>;                                // P and dS
  static constexpr int kLdA = DP + kPadF32;                                // dK, dV, dQ accumulators, f32
  static constexpr size_t k = 0;                                           // (BC, DP) T
  static constexpr size_t v = align128(k + BC * kLdT * sizeof(T));         // (BC, DP) T
  static constexpr size_t q = align128(v + BC * kLdT * sizeof(T));         // (BR, DP) T
  static constexpr size_t dout = align128(q + BR * kLdT * sizeof(T));      // (BR, DP) T
  static constexpr size_t s = align128(dout + BR * kLdT * sizeof(T));      // (BR, BC) f32
  static constexpr size_t dp = align128(s + BR * kLdS * sizeof(float));    // (BR, BC) f32
  static constexpr size_t p = align128(dp + BR * kLdS * sizeof(float));    // (BR, BC) T
  static constexpr size_t ds = align128(p + BR * kLdP * sizeof(T));        // (BR, BC) T
  static constexpr size_t dk = align128(ds + BR * kLdP * sizeof(T));       // (BC, DP) f32
  static constexpr size_t dv = align128(dk + BC * kLdA * sizeof(float));   // (BC, DP) f32
  static constexpr size_t lse = align128(dv + BC * kLdA * sizeof(float));  // (BR) f32, log2 domain
  static constexpr size_t delta = align128(lse + BR * sizeof(float));      // (BR) f32
  static constexpr size_t bytes = align128(delta + BR * sizeof(float));
  // dQ (BR, DP) f32 reuses the scores and dP: both are dead once P and dS are written.
  static constexpr size_t dq = s;
  static_assert(dq + BR * kLdA * sizeof(float) <= p, "dQ tile must fit in the S and dP tiles");
};

// ---- Launch helpers ----

constexpr size_t kMaxSmem = 227 * 1024;  // opt-in dynamic shared memory per block on sm_90

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Whole 16-byte chunks per row: D a multiple of the chunk and every base pointer aligned.
template <typename T>
bool can_vectorize(int64_t head_dim, std::initializer_list<const void*> ptrs) {
  if (head_dim % (16 / static_cast<int64_t>(sizeof(T))) != 0) return false;
  for (const void* p : ptrs)
    if (!aligned16(p)) return false;
  return true;
}

}  // namespace
}  // namespace trident::ops::cuda
