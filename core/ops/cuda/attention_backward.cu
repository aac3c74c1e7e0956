// Causal grouped-query attention backward, flash-attention style (Dao et al., FlashAttention-2): no T x T
// matrix ever reaches global memory. delta_i = dout_i . out_i first; then a block owns BC key rows of one
// (b, kv head), walks the query heads of its group and the query tiles at or after the diagonal, recomputes
// P = exp(S - lse) and accumulates dK, dV in shared f32 (so the sum over the group needs no atomics); dQ goes
// to an f32 scratch by atomicAdd and is converted to the element type at the end. Shared helpers and the
// shared-memory layout: attention_common.cuh.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/ops/cuda/attention_common.cuh"
#include "core/ops/cuda/attention_launch.h"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

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

constexpr int kBwdBR = 32, kBwdBC = 64;

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
