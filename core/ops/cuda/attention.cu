// Causal grouped-query attention, flash-attention style (Dao et al., FlashAttention-2): no T x T matrix ever
// reaches global memory. Forward: a block owns BR query rows of one (b, h) and walks the key/value tiles up
// to the diagonal with an online softmax (running max and sum per row, output accumulator rescaled on every
// new max). Backward: delta_i = dout_i . out_i first; then a block owns BC key rows of one (b, kv head),
// walks the query heads of its group and the query tiles at or after the diagonal, recomputes P = exp(S -
// lse) and accumulates dK, dV in shared f32 (so the sum over the group needs no atomics); dQ goes to an f32
// scratch by atomicAdd and is converted to the element type at the end.
//
// Matrix products run on shared-memory tiles: bf16/f16 through tensor cores (nvcuda::wmma m16n16k16, f32
// accumulate), f32 through register-blocked FMA so the f32 path matches the CPU to rounding. Scores, the
// output accumulator and dK/dV live in shared f32; the softmax runs in the log2 domain (exp2f).
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "core/ops/cuda/attention_launch.h"
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

// ---- Forward ----

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

// Grid (query tiles, H, B). The heaviest query tiles (last on the diagonal) are launched first.
template <typename T, int DP, int BR, int BC>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(T* __restrict__ out, float* __restrict__ lse, const T* __restrict__ q,
                             const T* __restrict__ k, const T* __restrict__ v, int seq, int heads,
                             int kv_heads, int d, float scale_log2, bool vec) {
  using L = FwdSmem<T, DP, BR, BC>;
  static_assert(BR % kWarps == 0 && BC % 32 == 0, "softmax rows split over warps, columns over lanes");
  extern __shared__ __align__(128) unsigned char attn_smem[];
  T* sq = reinterpret_cast<T*>(attn_smem + L::q);
  T* sk = reinterpret_cast<T*>(attn_smem + L::k);
  T* sv = reinterpret_cast<T*>(attn_smem + L::v);
  float* ss = reinterpret_cast<float*>(attn_smem + L::s);
  T* sp = reinterpret_cast<T*>(attn_smem + L::p);
  float* so = reinterpret_cast<float*>(attn_smem + L::o);

  const int i0 = (gridDim.x - 1 - blockIdx.x) * BR;
  const int h = blockIdx.y, b = blockIdx.z, g = h / (heads / kv_heads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t q_stride = static_cast<int64_t>(heads) * d;      // between tokens in q/out
  const int64_t kv_stride = static_cast<int64_t>(kv_heads) * d;  // between tokens in k/v
  const int64_t q_base = (static_cast<int64_t>(b) * seq + i0) * q_stride + static_cast<int64_t>(h) * d;
  const int64_t kv_base = static_cast<int64_t>(b) * seq * kv_stride + static_cast<int64_t>(g) * d;

  load_tile<T, BR, DP>(sq, L::kLdT, q + q_base, q_stride, min(BR, seq - i0), d, vec);
  zero_f32<BR, DP>(so, L::kLdO);

  // Warp w owns rows w, w + kWarps, ...: their running max (log2 domain) and sum stay in its registers.
  constexpr int kRowsPerWarp = BR / kWarps, kColsPerLane = BC / 32;
  float row_max[kRowsPerWarp], row_sum[kRowsPerWarp];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) row_max[rr] = -INFINITY, row_sum[rr] = 0.0f;

  const int last_key = min(i0 + BR, seq) - 1;  // causal: no key after the block's last query
  for (int j0 = 0; j0 <= last_key; j0 += BC) {
    __syncthreads();  // the previous tile's P V product is done with sk, sv, sp
    load_tile<T, BC, DP>(sk, L::kLdT, k + kv_base + j0 * kv_stride, kv_stride, min(BC, seq - j0), d, vec);
    load_tile<T, BC, DP>(sv, L::kLdT, v + kv_base + j0 * kv_stride, kv_stride, min(BC, seq - j0), d, vec);
    __syncthreads();
    block_mm<BR, BC, DP, false, true, false>(ss, L::kLdS, sq, L::kLdT, sk, L::kLdT);  // S = Q K^T
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
      const int r = warp + rr * kWarps, qi = i0 + r;
      float sc[kColsPerLane];
      float tile_max = -INFINITY;
#pragma unroll
      for (int u = 0; u < kColsPerLane; ++u) {
        const int col = lane + 32 * u;
        // Key j0 + col is visible to query qi when j0 + col <= qi (which also keeps it below seq).
        sc[u] = (j0 + col <= qi && qi < seq) ? ss[r * L::kLdS + col] * scale_log2 : -INFINITY;
        tile_max = fmaxf(tile_max, sc[u]);
      }
      tile_max = warp_max(tile_max);
      const float m_new = fmaxf(row_max[rr], tile_max);
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // a row with nothing visible yet stays at 0
      float sum = 0.0f;
#pragma unroll
      for (int u = 0; u < kColsPerLane; ++u) {
        const float p = exp2f(sc[u] - m_use);
        sum += p;
        sp[r * L::kLdP + lane + 32 * u] = from_f32<T>(p);
      }
      sum = warp_sum(sum);
      const float alpha = exp2f(row_max[rr] - m_use);  // rescales what was accumulated under the old max
      row_sum[rr] = row_sum[rr] * alpha + sum;
      row_max[rr] = m_new;
      for (int col = lane; col < DP; col += 32) so[r * L::kLdO + col] *= alpha;
    }
    __syncthreads();
    block_mm<BR, DP, BC, false, false, true>(so, L::kLdO, sp, L::kLdP, sv, L::kLdT);  // O += P V
  }
  __syncthreads();

#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int r = warp + rr * kWarps, qi = i0 + r;
    if (qi >= seq) continue;
    const float inv = 1.0f / row_sum[rr];
    T* orow = out + q_base + r * q_stride;
    for (int col = lane; col < d; col += 32) orow[col] = from_f32<T>(so[r * L::kLdO + col] * inv);
    if (lane == 0)
      lse[(static_cast<int64_t>(b) * heads + h) * seq + qi] = row_max[rr] * kLn2 + logf(row_sum[rr]);
  }
}

// ---- Backward ----

// delta (B, H, T) = sum_d dout * out per query row; one warp per (b, t, h) row.
template <typename T>
__global__ void attention_delta_kernel(float* __restrict__ delta, const T* __restrict__ dout,
                                       const T* __restrict__ out, int64_t rows, int seq, int heads, int d) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows) return;
  const int lane = threadIdx.x % 32;
  const T* dr = dout + row * d;
  const T* orow = out + row * d;
  float acc = 0.0f;
  for (int col = lane; col < d; col += 32) acc += to_f32(dr[col]) * to_f32(orow[col]);
  acc = warp_sum(acc);
  if (lane == 0) {
    const int64_t h = row % heads, bt = row / heads, t = bt % seq, b = bt / seq;
    delta[(b * heads + h) * seq + t] = acc;
  }
}

template <typename T>
__global__ void f32_to_kernel(T* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = from_f32<T>(src[i]);
}

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

// Grid (key tiles, Hkv, B); the key tiles near the start see the most query tiles and are launched first.
template <typename T, int DP, int BR, int BC>
__global__ void __launch_bounds__(kThreads)
    attention_backward_kernel(float* __restrict__ dq_accum, T* __restrict__ dk, T* __restrict__ dv,
                              const T* __restrict__ dout, const T* __restrict__ q, const T* __restrict__ k,
                              const T* __restrict__ v, const float* __restrict__ lse,
                              const float* __restrict__ delta, int seq, int heads, int kv_heads, int d,
                              float scale, bool vec) {
  using L = BwdSmem<T, DP, BR, BC>;
  extern __shared__ __align__(128) unsigned char attn_smem[];
  T* sk = reinterpret_cast<T*>(attn_smem + L::k);
  T* sv = reinterpret_cast<T*>(attn_smem + L::v);
  T* sq = reinterpret_cast<T*>(attn_smem + L::q);
  T* sdo = reinterpret_cast<T*>(attn_smem + L::dout);
  float* ss = reinterpret_cast<float*>(attn_smem + L::s);
  float* sdp = reinterpret_cast<float*>(attn_smem + L::dp);
  T* sp = reinterpret_cast<T*>(attn_smem + L::p);
  T* sds = reinterpret_cast<T*>(attn_smem + L::ds);
  float* sdk = reinterpret_cast<float*>(attn_smem + L::dk);
  float* sdv = reinterpret_cast<float*>(attn_smem + L::dv);
  float* slse = reinterpret_cast<float*>(attn_smem + L::lse);
  float* sdelta = reinterpret_cast<float*>(attn_smem + L::delta);
  float* sdq = reinterpret_cast<float*>(attn_smem + L::dq);

  const int j0 = blockIdx.x * BC;
  const int g = blockIdx.y, b = blockIdx.z, group = heads / kv_heads;
  const int64_t q_stride = static_cast<int64_t>(heads) * d;
  const int64_t kv_stride = static_cast<int64_t>(kv_heads) * d;
  const int64_t kv_base = (static_cast<int64_t>(b) * seq + j0) * kv_stride + static_cast<int64_t>(g) * d;
  const float scale_log2 = scale * kLog2e;

  load_tile<T, BC, DP>(sk, L::kLdT, k + kv_base, kv_stride, min(BC, seq - j0), d, vec);
  load_tile<T, BC, DP>(sv, L::kLdT, v + kv_base, kv_stride, min(BC, seq - j0), d, vec);
  zero_f32<BC, DP>(sdk, L::kLdA);
  zero_f32<BC, DP>(sdv, L::kLdA);

  for (int h = g * group; h < (g + 1) * group; ++h) {
    const int64_t stat_base = (static_cast<int64_t>(b) * heads + h) * seq;  // lse, delta (B, H, T)
    // Query tiles from the one holding row j0: earlier queries see none of these keys.
    for (int i0 = (j0 / BR) * BR; i0 < seq; i0 += BR) {
      const int rows = min(BR, seq - i0);
      const int64_t q_base = (static_cast<int64_t>(b) * seq + i0) * q_stride + static_cast<int64_t>(h) * d;
      __syncthreads();  // the previous tile is done with sq, sdo, sp, sds and sdq (which aliases ss, sdp)
      load_tile<T, BR, DP>(sq, L::kLdT, q + q_base, q_stride, rows, d, vec);
      load_tile<T, BR, DP>(sdo, L::kLdT, dout + q_base, q_stride, rows, d, vec);
      for (int r = threadIdx.x; r < BR; r += kThreads) {
        slse[r] = r < rows ? lse[stat_base + i0 + r] * kLog2e : 0.0f;
        sdelta[r] = r < rows ? delta[stat_base + i0 + r] : 0.0f;
      }
      __syncthreads();
      block_mm<BR, BC, DP, false, true, false>(ss, L::kLdS, sq, L::kLdT, sk, L::kLdT);    // S = Q K^T
      block_mm<BR, BC, DP, false, true, false>(sdp, L::kLdS, sdo, L::kLdT, sv, L::kLdT);  // dP = dO V^T
      __syncthreads();
      // P = exp(scale S - lse) under the causal mask; dS = P (dP - delta) scale, the scale of S folded in.
      for (int idx = threadIdx.x; idx < BR * BC; idx += kThreads) {
        const int r = idx / BC, col = idx % BC;
        const bool visible = j0 + col <= i0 + r && r < rows;
        const float p = visible ? exp2f(ss[r * L::kLdS + col] * scale_log2 - slse[r]) : 0.0f;
        const float ds = p * (sdp[r * L::kLdS + col] - sdelta[r]) * scale;
        sp[r * L::kLdP + col] = from_f32<T>(p);
        sds[r * L::kLdP + col] = from_f32<T>(ds);
      }
      __syncthreads();
      block_mm<BC, DP, BR, true, false, true>(sdv, L::kLdA, sp, L::kLdP, sdo, L::kLdT);    // dV += P^T dO
      block_mm<BC, DP, BR, true, false, true>(sdk, L::kLdA, sds, L::kLdP, sq, L::kLdT);    // dK += dS^T Q
      block_mm<BR, DP, BC, false, false, false>(sdq, L::kLdA, sds, L::kLdP, sk, L::kLdT);  // dQ = dS K
      __syncthreads();
      float* dq_tile = dq_accum + q_base;
      for (int idx = threadIdx.x; idx < BR * DP; idx += kThreads) {
        const int r = idx / DP, col = idx % DP;
        if (r < rows && col < d) atomicAdd(dq_tile + r * q_stride + col, sdq[r * L::kLdA + col]);
      }
    }
  }
  __syncthreads();

  const int keys = min(BC, seq - j0);
  for (int idx = threadIdx.x; idx < BC * DP; idx += kThreads) {
    const int r = idx / DP, col = idx % DP;
    if (r >= keys || col >= d) continue;
    dk[kv_base + r * kv_stride + col] = from_f32<T>(sdk[r * L::kLdA + col]);
    dv[kv_base + r * kv_stride + col] = from_f32<T>(sdv[r * L::kLdA + col]);
  }
}

// ---- Launch helpers ----

constexpr int kFwdBR = 64, kFwdBC = 64;
constexpr int kBwdBR = 32, kBwdBC = 64;
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

template <typename T, int DP>
cudaError_t forward_bucket(T* out, float* lse, const T* q, const T* k, const T* v, int64_t batch, int64_t seq,
                           int64_t heads, int64_t kv_heads, int64_t head_dim, cudaStream_t stream) {
  using L = FwdSmem<T, DP, kFwdBR, kFwdBC>;
  static_assert(L::bytes <= kMaxSmem, "forward tiles exceed the shared memory of a block");
  auto kernel = attention_forward_kernel<T, DP, kFwdBR, kFwdBC>;
  cudaError_t err =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(L::bytes));
  if (err != cudaSuccess) return err;
  const float scale_log2 = static_cast<float>(kLog2e / std::sqrt(static_cast<double>(head_dim)));
  const bool vec = can_vectorize<T>(head_dim, {out, q, k, v});
  const dim3 grid(blocks_for(seq, kFwdBR), static_cast<unsigned>(heads), static_cast<unsigned>(batch));
  kernel<<<grid, kThreads, L::bytes, stream>>>(out, lse, q, k, v, static_cast<int>(seq),
                                               static_cast<int>(heads), static_cast<int>(kv_heads),
                                               static_cast<int>(head_dim), scale_log2, vec);
  return cudaGetLastError();
}

template <typename T, int DP>
cudaError_t backward_bucket(float* dq_accum, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                            const float* lse, const float* delta, int64_t batch, int64_t seq, int64_t heads,
                            int64_t kv_heads, int64_t head_dim, cudaStream_t stream) {
  using L = BwdSmem<T, DP, kBwdBR, kBwdBC>;
  static_assert(L::bytes <= kMaxSmem, "backward tiles exceed the shared memory of a block");
  auto kernel = attention_backward_kernel<T, DP, kBwdBR, kBwdBC>;
  cudaError_t err =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(L::bytes));
  if (err != cudaSuccess) return err;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  const bool vec = can_vectorize<T>(head_dim, {dk, dv, dout, q, k, v});
  const dim3 grid(blocks_for(seq, kBwdBC), static_cast<unsigned>(kv_heads), static_cast<unsigned>(batch));
  kernel<<<grid, kThreads, L::bytes, stream>>>(
      dq_accum, dk, dv, dout, q, k, v, lse, delta, static_cast<int>(seq), static_cast<int>(heads),
      static_cast<int>(kv_heads), static_cast<int>(head_dim), scale, vec);
  return cudaGetLastError();
}

template <typename T>
cudaError_t forward_typed(void* out, float* lse, const void* q, const void* k, const void* v, int64_t batch,
                          int64_t seq, int64_t heads, int64_t kv_heads, int64_t head_dim,
                          cudaStream_t stream) {
  auto* o = static_cast<T*>(out);
  const auto *qt = static_cast<const T*>(q), *kt = static_cast<const T*>(k), *vt = static_cast<const T*>(v);
  if (head_dim <= 32)
    return forward_bucket<T, 32>(o, lse, qt, kt, vt, batch, seq, heads, kv_heads, head_dim, stream);
  if (head_dim <= 64)
    return forward_bucket<T, 64>(o, lse, qt, kt, vt, batch, seq, heads, kv_heads, head_dim, stream);
  if (head_dim <= 128)
    return forward_bucket<T, 128>(o, lse, qt, kt, vt, batch, seq, heads, kv_heads, head_dim, stream);
  return cudaErrorInvalidValue;
}

template <typename T>
cudaError_t backward_typed(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k,
                           const void* v, const void* out, const float* lse, float* delta, float* dq_accum,
                           int64_t batch, int64_t seq, int64_t heads, int64_t kv_heads, int64_t head_dim,
                           cudaStream_t stream) {
  const auto* dot = static_cast<const T*>(dout);
  const auto *qt = static_cast<const T*>(q), *kt = static_cast<const T*>(k), *vt = static_cast<const T*>(v);
  auto *dkt = static_cast<T*>(dk), *dvt = static_cast<T*>(dv);
  const int64_t rows = batch * seq * heads, numel = rows * head_dim;

  constexpr int kDeltaThreads = 256;
  attention_delta_kernel<T><<<blocks_for(rows, kDeltaThreads / 32), kDeltaThreads, 0, stream>>>(
      delta, dot, static_cast<const T*>(out), rows, static_cast<int>(seq), static_cast<int>(heads),
      static_cast<int>(head_dim));
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  err = cudaMemsetAsync(dq_accum, 0, static_cast<size_t>(numel) * sizeof(float), stream);
  if (err != cudaSuccess) return err;

  if (head_dim <= 32)
    err = backward_bucket<T, 32>(dq_accum, dkt, dvt, dot, qt, kt, vt, lse, delta, batch, seq, heads, kv_heads,
                                 head_dim, stream);
  else if (head_dim <= 64)
    err = backward_bucket<T, 64>(dq_accum, dkt, dvt, dot, qt, kt, vt, lse, delta, batch, seq, heads, kv_heads,
                                 head_dim, stream);
  else if (head_dim <= 128)
    err = backward_bucket<T, 128>(dq_accum, dkt, dvt, dot, qt, kt, vt, lse, delta, batch, seq, heads,
                                  kv_heads, head_dim, stream);
  else
    err = cudaErrorInvalidValue;
  if (err != cudaSuccess) return err;

  // dq_accum is dq itself for f32; otherwise convert.
  if (static_cast<void*>(dq_accum) != dq) {
    constexpr int kConvertThreads = 256;
    const unsigned blocks = std::min<unsigned>(blocks_for(numel, kConvertThreads), 65535u * 16u);
    f32_to_kernel<T><<<blocks, kConvertThreads, 0, stream>>>(static_cast<T*>(dq), dq_accum, numel);
    err = cudaGetLastError();
  }
  return err;
}

}  // namespace

cudaError_t launch_attention_forward(void* out, float* lse, const void* q, const void* k, const void* v,
                                     int64_t batch, int64_t seq, int64_t heads, int64_t kv_heads,
                                     int64_t head_dim, DType dtype, cudaStream_t stream) {
  if (batch == 0 || seq == 0 || heads == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype, return forward_typed<T>(out, lse, q, k, v, batch, seq, heads, kv_heads, head_dim, stream));
  return cudaErrorInvalidValue;
}

cudaError_t launch_attention_backward(void* dq, void* dk, void* dv, const void* dout, const void* q,
                                      const void* k, const void* v, const void* out, const float* lse,
                                      float* delta, float* dq_accum, int64_t batch, int64_t seq,
                                      int64_t heads, int64_t kv_heads, int64_t head_dim, DType dtype,
                                      cudaStream_t stream) {
  if (batch == 0 || seq == 0) return cudaSuccess;
  if (heads == 0) {  // no query sees any key: dK and dV are zero (written, like the CPU op's)
    const size_t kv_bytes = static_cast<size_t>(batch * seq * kv_heads * head_dim) * dtype_size(dtype);
    cudaError_t err = cudaMemsetAsync(dk, 0, kv_bytes, stream);
    if (err == cudaSuccess) err = cudaMemsetAsync(dv, 0, kv_bytes, stream);
    return err;
  }
  TRIDENT_KERNEL_DISPATCH(
      dtype, return backward_typed<T>(dq, dk, dv, dout, q, k, v, out, lse, delta, dq_accum, batch, seq, heads,
                                      kv_heads, head_dim, stream));
  return cudaErrorInvalidValue;
}

}  // namespace trident::ops::cuda
