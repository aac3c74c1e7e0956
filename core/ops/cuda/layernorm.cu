// LayerNorm over the last dimension on CUDA: one block per row for the forward and din, and a two-kernel
// deterministic column reduction for dweight/dbias. Statistics are f32; elements are f32/bf16/f16.
#include "core/ops/cuda/kernel_util.cuh"
#include "core/ops/cuda/layernorm_launch.h"
#include "core/ops/cuda/norm_common.cuh"

namespace trident::ops::cuda {
namespace {

// One block per row, the row staged by norm::ForwardRow (which also forms the residual).
template <typename T, bool kResidual, bool kCache>
__global__ void __launch_bounds__(1024)
    layernorm_forward_kernel(T* out, float* mean, float* rstd, T* residual, const T* x, const T* y,
                             const T* weight, const T* bias, int64_t c, float eps) {
  extern __shared__ float row_cache[];  // (C) when kCache
  __shared__ float scratch[32];
  const int64_t off = static_cast<int64_t>(blockIdx.x) * c;
  const norm::ForwardRow<T, kResidual, kCache> row{row_cache, residual, x, y, off};

  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) sum += row.load(j);
  const float mu = block_sum(sum, scratch) / static_cast<float>(c);

  float var = 0.0f;  // two-pass, like the CPU: no cancellation when |mean| >> std
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float d = row.value(j) - mu;
    var += d * d;
  }
  const float rs = 1.0f / sqrtf(block_sum(var, scratch) / static_cast<float>(c) + eps);

  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float xhat = (row.value(j) - mu) * rs;
    const float b = bias ? to_f32(bias[j]) : 0.0f;
    out[off + j] = from_f32<T>(xhat * to_f32(weight[j]) + b);
  }
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = mu;
    rstd[blockIdx.x] = rs;
  }
}

// One block per row: din = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dout * weight.
template <typename T>
__global__ void __launch_bounds__(1024)
    layernorm_din_kernel(T* din, const T* dout, const T* in, const T* weight, const float* mean,
                         const float* rstd, int64_t c) {
  __shared__ float scratch[32];
  const int64_t off = static_cast<int64_t>(blockIdx.x) * c;
  const float mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
  float g_sum = 0.0f, gx_sum = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float g = to_f32(dout[off + j]) * to_f32(weight[j]);
    g_sum += g;
    gx_sum += g * (to_f32(in[off + j]) - mu) * rs;
  }
  const float g_mean = block_sum(g_sum, scratch) / static_cast<float>(c);
  const float gx_mean = block_sum(gx_sum, scratch) / static_cast<float>(c);
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float g = to_f32(dout[off + j]) * to_f32(weight[j]);
    const float xhat = (to_f32(in[off + j]) - mu) * rs;
    din[off + j] = from_f32<T>(rs * (g - g_mean - xhat * gx_mean));
  }
}

// The column terms of dweight and dbias at one element: dout * xhat and dout.
template <typename T>
struct DParamsTerms {
  const T* dout;
  const T* in;
  const float* mean;
  const float* rstd;
  __device__ __forceinline__ void operator()(float (&acc)[2], int64_t r, int64_t i) const {
    const float dy = to_f32(dout[i]);
    acc[0] += dy * (to_f32(in[i]) - mean[r]) * rstd[r];
    acc[1] += dy;
  }
};

template <typename T>
cudaError_t launch_forward(T* residual, T* out, float* mean, float* rstd, const T* x, const T* y,
                           const T* weight, const T* bias, int64_t n, int64_t c, float eps,
                           cudaStream_t stream) {
  // residual and y are null unless residual is given.
  norm::launch_forward_rows(
      residual != nullptr, n, c, [&](auto kResidual, auto kCache, dim3 grid, int threads, size_t smem) {
        layernorm_forward_kernel<T, decltype(kResidual)::value, decltype(kCache)::value>
            <<<grid, threads, smem, stream>>>(out, mean, rstd, residual, x, y, weight, bias, c, eps);
      });
  return cudaGetLastError();
}

}  // namespace

int64_t layernorm_dparams_chunks(int64_t n, int64_t c) {
  return norm::column_chunks(n, c);
}

cudaError_t launch_layernorm_forward(void* out, float* mean, float* rstd, const void* in, const void* weight,
                                     const void* bias, int64_t n, int64_t c, float eps, DType dtype,
                                     cudaStream_t stream) {
  if (n == 0 || c == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype, return launch_forward<T>(nullptr, static_cast<T*>(out), mean, rstd, static_cast<const T*>(in),
                                      nullptr, static_cast<const T*>(weight), static_cast<const T*>(bias), n,
                                      c, eps, stream));
  return cudaSuccess;
}

cudaError_t launch_residual_layernorm_forward(void* residual, void* out, float* mean, float* rstd,
                                              const void* x, const void* y, const void* weight,
                                              const void* bias, int64_t n, int64_t c, float eps, DType dtype,
                                              cudaStream_t stream) {
  if (n == 0 || c == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype, return launch_forward<T>(static_cast<T*>(residual), static_cast<T*>(out), mean, rstd,
                                      static_cast<const T*>(x), static_cast<const T*>(y),
                                      static_cast<const T*>(weight), static_cast<const T*>(bias), n, c, eps,
                                      stream));
  return cudaSuccess;
}

cudaError_t launch_layernorm_backward(void* din, void* dweight, void* dbias, float* partials,
                                      const void* dout, const void* in, const void* weight, const float* mean,
                                      const float* rstd, int64_t n, int64_t c, DType dtype,
                                      cudaStream_t stream) {
  if (n == 0 || c == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(dtype, {
    if (din) {
      layernorm_din_kernel<T><<<static_cast<unsigned int>(n), row_block_threads(c), 0, stream>>>(
          static_cast<T*>(din), static_cast<const T*>(dout), static_cast<const T*>(in),
          static_cast<const T*>(weight), mean, rstd, c);
    }
    if (dweight || dbias) {
      // partials (2, chunks, C): dweight's column sums, then dbias's.
      norm::launch_column_sums(
          norm::GradColumns<2, T>{{static_cast<T*>(dweight), static_cast<T*>(dbias)}}, partials,
          DParamsTerms<T>{static_cast<const T*>(dout), static_cast<const T*>(in), mean, rstd}, n, c, stream);
    }
  });
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
