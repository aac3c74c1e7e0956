// Fused softmax cross-entropy on CUDA over logits (N, Vp) whose first `vocab` columns are real: one block per
// row (rows are long: V = 50304 or 128256), an online max/sum in the forward, and an in-place-safe backward.
#include "core/ops/cuda/cross_entropy_launch.h"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

constexpr int32_t kIgnoreTarget = -1;

// A target outside [0, vocab) that is not -1: the smallest (row, target) key wins, so the host reports the
// first bad row as the CPU does. The flag starts at all ones (no bad target).
__device__ __forceinline__ void flag_bad_target(unsigned long long* bad, int64_t row, int32_t target) {
  const unsigned long long key = (static_cast<unsigned long long>(row) << 32) |
                                 static_cast<unsigned long long>(static_cast<uint32_t>(target));
  atomicMin(bad, key);
}

// One block per row: the online max/sum of block_row_max_sumexp reads and exponentiates every logit once;
// thread 0 then writes the row's lse and loss.
template <typename T>
__global__ void __launch_bounds__(1024)
    cross_entropy_forward_kernel(float* losses, float* lse, unsigned long long* bad, const T* logits,
                                 const int32_t* targets, int64_t vocab, int64_t vp) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const T* x = logits + row * vp;  // only the first `vocab` columns are real
  const RowMaxSum stats = block_row_max_sumexp(x, vocab, scratch);
  const float row_max = stats.max, row_sum = stats.sum;
  if (threadIdx.x != 0) return;
  const float l = row_max + logf(row_sum);
  lse[row] = l;
  const int32_t t = targets[row];
  if (t == kIgnoreTarget) {
    losses[row] = 0.0f;
  } else if (t < 0 || t >= vocab) {
    losses[row] = 0.0f;  // the host throws after the launch
    flag_bad_target(bad, row, t);
  } else {
    losses[row] = l - to_f32(x[t]);
  }
}

// One block per row: dlogits = (exp(logit - lse) - onehot) * scale, padding and ignored rows 0. dlogits may
// alias logits: each element is read and then written by one thread, and nothing else reads it.
template <typename T>
__global__ void __launch_bounds__(1024)
    cross_entropy_backward_kernel(T* dlogits, unsigned long long* bad, const T* logits, const float* lse,
                                  const int32_t* targets, int64_t vocab, int64_t vp, float scale) {
  const int64_t row = blockIdx.x;
  const T* x = logits + row * vp;
  T* dx = dlogits + row * vp;
  const int32_t t = targets[row];
  if (t == kIgnoreTarget) {
    for (int64_t j = threadIdx.x; j < vp; j += blockDim.x) dx[j] = from_f32<T>(0.0f);
    return;
  }
  if ((t < 0 || t >= vocab) && threadIdx.x == 0) flag_bad_target(bad, row, t);  // no column matches it below
  const float l = lse[row];
  for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) {
    const float p = expf(to_f32(x[j]) - l);
    dx[j] = from_f32<T>((p - (j == t ? 1.0f : 0.0f)) * scale);
  }
  for (int64_t j = vocab + threadIdx.x; j < vp; j += blockDim.x) dx[j] = from_f32<T>(0.0f);  // padding
}

}  // namespace

cudaError_t launch_cross_entropy_forward(float* losses, float* lse, unsigned long long* bad,
                                         const void* logits, const int32_t* targets, int64_t n, int64_t vocab,
                                         int64_t vp, DType dtype, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(dtype, cross_entropy_forward_kernel<T>
                          <<<static_cast<unsigned int>(n), row_block_threads(vocab), 0, stream>>>(
                              losses, lse, bad, static_cast<const T*>(logits), targets, vocab, vp));
  return cudaGetLastError();
}

cudaError_t launch_cross_entropy_backward(void* dlogits, unsigned long long* bad, const void* logits,
                                          const float* lse, const int32_t* targets, int64_t n, int64_t vocab,
                                          int64_t vp, float scale, DType dtype, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(
      dtype,
      cross_entropy_backward_kernel<T><<<static_cast<unsigned int>(n), row_block_threads(vp), 0, stream>>>(
          static_cast<T*>(dlogits), bad, static_cast<const T*>(logits), lse, targets, vocab, vp, scale));
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
