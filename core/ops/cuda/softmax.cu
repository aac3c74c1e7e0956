// Softmax over the last dimension on CUDA: one block per row, looping over rows of any length.
#include "core/ops/cuda/kernel_util.cuh"
#include "core/ops/cuda/softmax_launch.h"

namespace trident::ops::cuda {
namespace {

// One block per row. Each thread keeps an online (max, sum of exp) over its strided elements, so the row is
// read twice (statistics, then output) and exp is taken once per element per pass.
template <typename T>
__global__ void __launch_bounds__(1024) softmax_forward_kernel(T* out, const T* in, int64_t c) {
  __shared__ float scratch[32];
  const int64_t off = static_cast<int64_t>(blockIdx.x) * c;
  const RowMaxSum stats = block_row_max_sumexp(in + off, c, scratch);
  const float row_max = stats.max, row_sum = stats.sum;
  const float inv = 1.0f / row_sum;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    out[off + j] = from_f32<T>(expf(to_f32(in[off + j]) - row_max) * inv);
  }
}

// One block per row: din = out * (dout - sum(dout * out)).
template <typename T>
__global__ void __launch_bounds__(1024)
    softmax_backward_kernel(T* din, const T* dout, const T* out, int64_t c) {
  __shared__ float scratch[32];
  const int64_t off = static_cast<int64_t>(blockIdx.x) * c;
  float dot = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) dot += to_f32(dout[off + j]) * to_f32(out[off + j]);
  dot = block_sum(dot, scratch);
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    din[off + j] = from_f32<T>(to_f32(out[off + j]) * (to_f32(dout[off + j]) - dot));
  }
}

}  // namespace

cudaError_t launch_softmax_forward(void* out, const void* in, int64_t n, int64_t c, DType dtype,
                                   cudaStream_t stream) {
  if (n == 0 || c == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype, softmax_forward_kernel<T><<<static_cast<unsigned int>(n), row_block_threads(c), 0, stream>>>(
                 static_cast<T*>(out), static_cast<const T*>(in), c));
  return cudaGetLastError();
}

cudaError_t launch_softmax_backward(void* din, const void* dout, const void* out, int64_t n, int64_t c,
                                    DType dtype, cudaStream_t stream) {
  if (n == 0 || c == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype, softmax_backward_kernel<T><<<static_cast<unsigned int>(n), row_block_threads(c), 0, stream>>>(
                 static_cast<T*>(din), static_cast<const T*>(dout), static_cast<const T*>(out), c));
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
