// RMSNorm over the last dimension on CUDA: one block per row for the forward and din, and a two-kernel
// deterministic column reduction for dweight. rstd is f32; elements are f32/bf16/f16.
#include "core/ops/cuda/kernel_util.cuh"
#include "core/ops/cuda/norm_common.cuh"
#include "core/ops/cuda/rmsnorm_launch.h"

namespace trident::ops::cuda {
namespace {

// One block per row, the row staged by norm::ForwardRow (which also forms the residual).
template <typename T, bool kResidual, bool kCache>
__global__ void __launch_bounds__(1024)
    rmsnorm_forward_kernel(T* out, float* rstd, T* residual, const T* x, const T* y, const T* weight,
                           int64_t c, float eps) {
  extern __shared__ float row_cache[];  // (C) when kCache
  __shared__ float scratch[32];
  const int64_t off = static_cast<int64_t>(blockIdx.x) * c;
  const norm::ForwardRow<T, kResidual, kCache> row{row_cache, residual, x, y, off};

  float ss = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float v = row.load(j);
    ss += v * v;
  }
  const float rs = 1.0f / sqrtf(block_sum(ss, scratch) / static_cast<float>(c) + eps);

  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    out[off + j] = from_f32<T>(row.value(j) * rs * to_f32(weight[j]));
  }
  if (threadIdx.x == 0) rstd[blockIdx.x] = rs;
}

// One block per row: din = rstd * (g - x * rstd^2 * mean(g * x)), g = dout * weight.
template <typename T>
__global__ void __launch_bounds__(1024)
    rmsnorm_din_kernel(T* din, const T* dout, const T* in, const T* weight, const float* rstd, int64_t c) {
  __shared__ float scratch[32];
  const int64_t off = static_cast<int64_t>(blockIdx.x) * c;
  const float rs = rstd[blockIdx.x];
  float gx_sum = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    gx_sum += to_f32(dout[off + j]) * to_f32(weight[j]) * to_f32(in[off + j]);
  }
  const float k = rs * rs * block_sum(gx_sum, scratch) / static_cast<float>(c);
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float g = to_f32(dout[off + j]) * to_f32(weight[j]);
    din[off + j] = from_f32<T>(rs * (g - to_f32(in[off + j]) * k));
  }
}

// The column term of dweight at one element: dout * x * rstd.
template <typename T>
struct DWeightTerm {
  const T* dout;
  const T* in;
  const float* rstd;
  __device__ __forceinline__ void operator()(float (&acc)[1], int64_t r, int64_t i) const {
    acc[0] += to_f32(dout[i]) * to_f32(in[i]) * rstd[r];
  }
};

template <typename T>
cudaError_t launch_forward(T* residual, T* out, float* rstd, const T* x, const T* y, const T* weight,
                           int64_t n, int64_t c, float eps, cudaStream_t stream) {
  // residual and y are null unless residual is given.
  norm::launch_forward_rows(
      residual != nullptr, n, c, [&](auto kResidual, auto kCache, dim3 grid, int threads, size_t smem) {
        rmsnorm_forward_kernel<T, decltype(kResidual)::value, decltype(kCache)::value>
            <<<grid, threads, smem, stream>>>(out, rstd, residual, x, y, weight, c, eps);
      });
  return cudaGetLastError();
}

}  // namespace

int64_t rmsnorm_dweight_chunks(int64_t n, int64_t c) {
  return norm::column_chunks(n, c);
}

cudaError_t launch_rmsnorm_forward(void* out, float* rstd, const void* in, const void* weight, int64_t n,
                                   int64_t c, float eps, DType dtype, cudaStream_t stream) {
  if (n == 0 || c == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype, return launch_forward<T>(nullptr, static_cast<T*>(out), rstd, static_cast<const T*>(in), nullptr,
                                      static_cast<const T*>(weight), n, c, eps, stream));
  return cudaSuccess;
}

cudaError_t launch_residual_rmsnorm_forward(void* residual, void* out, float* rstd, const void* x,
                                            const void* y, const void* weight, int64_t n, int64_t c,
                                            float eps, DType dtype, cudaStream_t stream) {
  if (n == 0 || c == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(dtype,
                          return launch_forward<T>(static_cast<T*>(residual), static_cast<T*>(out), rstd,
                                                   static_cast<const T*>(x), static_cast<const T*>(y),
                                                   static_cast<const T*>(weight), n, c, eps, stream));
  return cudaSuccess;
}

cudaError_t launch_rmsnorm_backward(void* din, void* dweight, float* partials, const void* dout,
                                    const void* in, const void* weight, const float* rstd, int64_t n,
                                    int64_t c, DType dtype, cudaStream_t stream) {
  if (n == 0 || c == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(dtype, {
    if (din) {
      rmsnorm_din_kernel<T><<<static_cast<unsigned int>(n), row_block_threads(c), 0, stream>>>(
          static_cast<T*>(din), static_cast<const T*>(dout), static_cast<const T*>(in),
          static_cast<const T*>(weight), rstd, c);
    }
    if (dweight) {
      // partials (1, chunks, C): dweight's column sums.
      norm::launch_column_sums(norm::GradColumns<1, T>{{static_cast<T*>(dweight)}}, partials,
                               DWeightTerm<T>{static_cast<const T*>(dout), static_cast<const T*>(in), rstd},
                               n, c, stream);
    }
  });
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
