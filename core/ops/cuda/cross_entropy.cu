// Fused softmax cross-entropy on CUDA over logits (N, Vp) whose first `vocab` columns are real: one block per
// row (rows are long: V = 50304 or 128256), an online max/sum in the forward, and an in-place-safe backward
// that also serves one rank's columns of vocabulary-parallel logits; then that layout's forward pieces (row
// max, sums, loss), whose collectives run in between (tensor_parallel/vocab_parallel_cross_entropy.cpp).
#include "core/ops/cuda/cross_entropy_launch.h"
#include "core/ops/cuda/kernel_util.cuh"

namespace trident::ops::cuda {
namespace {

constexpr int32_t kIgnoreTarget = -1;

// The real columns of a row of vl logits that starts at global column vocab_start: those below vocab.
__host__ __device__ __forceinline__ int64_t real_columns(int64_t vocab_start, int64_t vocab, int64_t vl) {
  const int64_t real = vocab - vocab_start;
  return real < 0 ? 0 : (real < vl ? real : vl);
}

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

// One block per row: dlogits = (exp(logit - lse) - onehot) * scale over the columns [vocab_start,
// vocab_start + vl), padding and ignored rows 0. dlogits may alias logits: each element is read and then
// written by one thread, and nothing else reads it.
template <typename T>
__global__ void __launch_bounds__(1024)
    cross_entropy_backward_kernel(T* dlogits, unsigned long long* bad, const T* logits, const float* lse,
                                  const int32_t* targets, int64_t vocab_start, int64_t vocab, int64_t vl,
                                  float scale) {
  const int64_t row = blockIdx.x;
  const T* x = logits + row * vl;
  T* dx = dlogits + row * vl;
  const int32_t t = targets[row];
  if (t == kIgnoreTarget) {
    for (int64_t j = threadIdx.x; j < vl; j += blockDim.x) dx[j] = from_f32<T>(0.0f);
    return;
  }
  if ((t < 0 || t >= vocab) && threadIdx.x == 0) flag_bad_target(bad, row, t);  // no column matches it below
  const float l = lse[row];
  const int64_t valid = real_columns(vocab_start, vocab, vl), target_column = t - vocab_start;
  for (int64_t j = threadIdx.x; j < valid; j += blockDim.x) {
    const float p = expf(to_f32(x[j]) - l);
    dx[j] = from_f32<T>((p - (j == target_column ? 1.0f : 0.0f)) * scale);
  }
  for (int64_t j = valid + threadIdx.x; j < vl; j += blockDim.x) dx[j] = from_f32<T>(0.0f);  // padding
}

// One block per row: the max of the row's real columns (-inf where it has none).
template <typename T>
__global__ void __launch_bounds__(1024)
    partial_max_kernel(float* row_max, const T* logits, int64_t valid, int64_t vl) {
  __shared__ float scratch[32];
  const T* x = logits + static_cast<int64_t>(blockIdx.x) * vl;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < valid; j += blockDim.x) m = fmaxf(m, to_f32(x[j]));
  m = block_max(m, scratch);
  if (threadIdx.x == 0) row_max[blockIdx.x] = m;
}

// One block per row: sums[row] = sum exp(logit - row_max) over the real columns; sums[n + row] = the target's
// logit where this rank holds it, else 0.
template <typename T>
__global__ void __launch_bounds__(1024)
    partial_sums_kernel(float* sums, unsigned long long* bad, const T* logits, const float* row_max,
                        const int32_t* targets, int64_t n, int64_t vocab_start, int64_t vocab, int64_t vl) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const T* x = logits + row * vl;
  const int64_t valid = real_columns(vocab_start, vocab, vl);
  const float m = row_max[row];
  float acc = 0.0f;
  for (int64_t j = threadIdx.x; j < valid; j += blockDim.x) acc += expf(to_f32(x[j]) - m);
  acc = block_sum(acc, scratch);
  if (threadIdx.x != 0) return;
  sums[row] = acc;
  const int32_t t = targets[row];
  if (t != kIgnoreTarget && (t < 0 || t >= vocab)) flag_bad_target(bad, row, t);
  const int64_t y = static_cast<int64_t>(t) - vocab_start;
  sums[n + row] = t != kIgnoreTarget && y >= 0 && y < valid ? to_f32(x[y]) : 0.0f;
}

// lse = row_max + log(sum exp); loss = lse - target logit (0 for an ignored row). One thread per row.
__global__ void partial_loss_kernel(float* losses, float* lse, const float* row_max, const float* sums,
                                    const int32_t* targets, int64_t n) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= n) return;
  const float l = row_max[row] + logf(sums[row]);
  lse[row] = l;
  losses[row] = targets[row] == kIgnoreTarget ? 0.0f : l - sums[n + row];
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
                                          const float* lse, const int32_t* targets, int64_t n,
                                          int64_t vocab_start, int64_t vocab, int64_t vl, float scale,
                                          DType dtype, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  TRIDENT_KERNEL_DISPATCH(dtype, cross_entropy_backward_kernel<T>
                          <<<static_cast<unsigned int>(n), row_block_threads(vl), 0, stream>>>(
                              static_cast<T*>(dlogits), bad, static_cast<const T*>(logits), lse, targets,
                              vocab_start, vocab, vl, scale));
  return cudaGetLastError();
}

cudaError_t launch_cross_entropy_partial_max(float* row_max, const void* logits, int64_t n,
                                             int64_t vocab_start, int64_t vocab, int64_t vl, DType dtype,
                                             cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int64_t valid = real_columns(vocab_start, vocab, vl);
  TRIDENT_KERNEL_DISPATCH(
      dtype, partial_max_kernel<T><<<static_cast<unsigned int>(n), row_block_threads(valid), 0, stream>>>(
                 row_max, static_cast<const T*>(logits), valid, vl));
  return cudaGetLastError();
}

cudaError_t launch_cross_entropy_partial_sums(float* sums, unsigned long long* bad, const void* logits,
                                              const float* row_max, const int32_t* targets, int64_t n,
                                              int64_t vocab_start, int64_t vocab, int64_t vl, DType dtype,
                                              cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const int64_t valid = real_columns(vocab_start, vocab, vl);
  TRIDENT_KERNEL_DISPATCH(
      dtype, partial_sums_kernel<T><<<static_cast<unsigned int>(n), row_block_threads(valid), 0, stream>>>(
                 sums, bad, static_cast<const T*>(logits), row_max, targets, n, vocab_start, vocab, vl));
  return cudaGetLastError();
}

cudaError_t launch_cross_entropy_partial_loss(float* losses, float* lse, const float* row_max,
                                              const float* sums, const int32_t* targets, int64_t n,
                                              cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  partial_loss_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(losses, lse, row_max, sums, targets, n);
  return cudaGetLastError();
}

}  // namespace trident::ops::cuda
