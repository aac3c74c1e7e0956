// Causal grouped-query attention forward, flash-attention style (Dao et al., FlashAttention-2): no T x T
// matrix ever reaches global memory. A block owns BR query rows of one (b, h) and walks the key/value tiles
// up to the diagonal with an online softmax (running max and sum per row, output accumulator rescaled on
// every new max). Shared helpers and the shared-memory layout: attention_common.cuh.
#include <cmath>
#include <cstdint>

#include "core/ops/cuda/attention_common.cuh"
#include "core/ops/cuda/attention_launch.h"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

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

// ---- Launch helpers ----

constexpr int kFwdBR = 64, kFwdBC = 64;

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

}  // namespace

cudaError_t launch_attention_forward(void* out, float* lse, const void* q, const void* k, const void* v,
                                     int64_t batch, int64_t seq, int64_t heads, int64_t kv_heads,
                                     int64_t head_dim, DType dtype, cudaStream_t stream) {
  if (batch == 0 || seq == 0 || heads == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype, return forward_typed<T>(out, lse, q, k, v, batch, seq, heads, kv_heads, head_dim, stream));
  return cudaErrorInvalidValue;
}

}  // namespace trident::ops::cuda
