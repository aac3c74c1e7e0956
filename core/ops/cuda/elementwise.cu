// Elementwise helpers on CUDA: add, in-place scale, and the sum of squares behind the global gradient norm.
#include "core/ops/cuda/elementwise_launch.h"
#include "core/ops/cuda/elementwise_map.cuh"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};

// The factor is rounded to f32 first, as the CPU op multiplies by static_cast<float>(s).
struct ScaleOp {
  float s;
  __device__ float operator()(float a) const { return a * s; }
};

constexpr int kSumThreads = 256;

// partial (gridDim.x) f64: block b's sum of x^2 over its grid-stride share of x (n). Squares and sums in
// double, like the CPU (bf16/f16/f32 widen exactly), so the norm of a large gradient loses nothing to f32
// rounding.
template <int kN, typename T>
__global__ void sum_squares_partial_kernel(double* partial, const T* x, int64_t n) {
  __shared__ double scratch[32];
  const int64_t packs = n / kN;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  double acc = 0.0;
  for (int64_t p = tid; p < packs; p += stride) {
    const Pack<T, kN> in = reinterpret_cast<const Pack<T, kN>*>(x)[p];
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const double v = to_f32(in.v[j]);
      acc += v * v;
    }
  }
  const int64_t i = packs * kN + tid;
  if (i < n) {
    const double v = to_f32(x[i]);
    acc += v * v;
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// result (1) = sum of partial (count), in a fixed order: one block, so the norm is reproducible run to run.
__global__ void __launch_bounds__(1024)
    sum_partials_kernel(double* result, const double* partial, int count) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) *result = acc;
}

template <typename T>
void launch_sum_squares_t(double* result, double* partial, const T* x, int64_t n, cudaStream_t stream) {
  const int blocks = sum_squares_blocks(n);
  constexpr int kN = kPack16<T>;
  if (aligned16(x)) {
    sum_squares_partial_kernel<kN><<<blocks, kSumThreads, 0, stream>>>(partial, x, n);
  } else {
    sum_squares_partial_kernel<1><<<blocks, kSumThreads, 0, stream>>>(partial, x, n);
  }
  sum_partials_kernel<<<1, 1024, 0, stream>>>(result, partial, blocks);
}

}  // namespace

int sum_squares_blocks(int64_t n) {
  // About 16 elements per thread at the least, and at most 1024 partial sums for the second pass. The count
  // depends on n only, so the summation order does too.
  const int64_t per_block = int64_t{kSumThreads} * 16;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(1024, (n + per_block - 1) / per_block)));
}

cudaError_t launch_add(void* out, const void* a, const void* b, int64_t n, DType dtype, cudaStream_t stream) {
  TRIDENT_KERNEL_DISPATCH(dtype, launch_binary_map(static_cast<T*>(out), static_cast<const T*>(a),
                                                   static_cast<const T*>(b), n, AddOp{}, stream));
  return cudaGetLastError();
}

cudaError_t launch_scale(void* x, int64_t n, double s, DType dtype, cudaStream_t stream) {
  const ScaleOp op{static_cast<float>(s)};
  TRIDENT_KERNEL_DISPATCH(dtype,
                          launch_unary_map(static_cast<T*>(x), static_cast<const T*>(x), n, op, stream));
  return cudaGetLastError();
}

cudaError_t launch_sum_squares(double* result, double* partial, const void* x, int64_t n, DType dtype,
                               cudaStream_t stream) {
  TRIDENT_KERNEL_DISPATCH(dtype, launch_sum_squares_t(result, partial, static_cast<const T*>(x), n, stream));
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
