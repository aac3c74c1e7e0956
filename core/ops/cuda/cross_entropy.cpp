// Cross-entropy on CUDA: stream choice and launch of core/ops/cuda/cross_entropy.cu, after the checks of
// core/ops/cross_entropy.cpp, plus what only these kernels need (f32 statistics). Targets live on the device,
// so the kernels check them and they are reported here after one synchronizing read-back.
#include "core/ops/cuda/cross_entropy_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {
namespace {

constexpr unsigned long long kNoBadTarget = ~0ull;

// A device word for the kernels' bad-target report (cross_entropy_launch.h), set to "none".
Tensor bad_target_flag(const Tensor& like, cudaStream_t stream) {
  Tensor flag = Tensor::empty({2}, DType::u32, like.device());  // one unsigned long long
  TRIDENT_CUDA_CHECK(cudaMemsetAsync(flag.raw(), 0xFF, sizeof(unsigned long long), stream));
  return flag;
}

// The one synchronizing read-back: throws the CPU op's message for the first bad (row, target).
void check_bad_target(std::string_view op, const Tensor& flag, int64_t vocab, cudaStream_t stream) {
  unsigned long long bad = kNoBadTarget;
  TRIDENT_CUDA_CHECK(cudaMemcpyAsync(&bad, flag.raw(), sizeof(bad), cudaMemcpyDeviceToHost, stream));
  TRIDENT_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (bad == kNoBadTarget) return;
  const int64_t row = static_cast<int64_t>(bad >> 32);
  const int32_t target = static_cast<int32_t>(static_cast<uint32_t>(bad & 0xFFFFFFFFull));
  fail("ops::{}: target id {} at position {} is outside the vocabulary [0, {}) (and is not -1, ignored)", op,
       target, row, vocab);
}

unsigned long long* flag_ptr(const Tensor& flag) {
  return static_cast<unsigned long long*>(flag.raw());
}

}  // namespace

void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& targets,
                           int64_t vocab) {
  constexpr std::string_view op = "cross_entropy_forward";
  const cudaStream_t stream = stream_for(op, {&losses, &lse, &logits, &targets});
  require_kernel_dtype(op, logits.dtype());
  require_stat_dtype(op, {&losses, &lse});
  const int64_t n = logits.dim(0);
  if (n == 0) return;
  const Tensor flag = bad_target_flag(logits, stream);
  TRIDENT_CUDA_CHECK(launch_cross_entropy_forward(losses.data<float>(), lse.data<float>(), flag_ptr(flag),
                                                  logits.raw(), targets.data<int32_t>(), n, vocab,
                                                  logits.dim(1), logits.dtype(), stream));
  check_bad_target(op, flag, vocab, stream);
}

void cross_entropy_backward(std::string_view op, Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                            const Tensor& targets, int64_t vocab_start, int64_t vocab, double dloss_scale) {
  const cudaStream_t stream = stream_for(op, {&dlogits, &logits, &lse, &targets});
  require_kernel_dtype(op, logits.dtype());
  require_dtype(op, logits.dtype(), {&dlogits});
  require_stat_dtype(op, {&lse});
  const int64_t n = logits.dim(0);
  if (n == 0) return;
  const Tensor flag = bad_target_flag(logits, stream);
  TRIDENT_CUDA_CHECK(launch_cross_entropy_backward(
      dlogits.raw(), flag_ptr(flag), logits.raw(), lse.data<float>(), targets.data<int32_t>(), n, vocab_start,
      vocab, logits.dim(1), static_cast<float>(dloss_scale), logits.dtype(), stream));
  check_bad_target(op, flag, vocab, stream);
}

void cross_entropy_partial_max(Tensor& row_max, const Tensor& logits, int64_t vocab_start, int64_t vocab) {
  constexpr std::string_view op = "cross_entropy_partial_max";
  const cudaStream_t stream = stream_for(op, {&row_max, &logits});
  require_kernel_dtype(op, logits.dtype());
  require_stat_dtype(op, {&row_max});
  TRIDENT_CUDA_CHECK(launch_cross_entropy_partial_max(row_max.data<float>(), logits.raw(), logits.dim(0),
                                                      vocab_start, vocab, logits.dim(1), logits.dtype(),
                                                      stream));
}

void cross_entropy_partial_sums(Tensor& sums, const Tensor& logits, const Tensor& row_max,
                                const Tensor& targets, int64_t vocab_start, int64_t vocab) {
  constexpr std::string_view op = "cross_entropy_partial_sums";
  const cudaStream_t stream = stream_for(op, {&sums, &logits, &row_max, &targets});
  require_kernel_dtype(op, logits.dtype());
  require_stat_dtype(op, {&sums, &row_max});
  const int64_t n = logits.dim(0);
  if (n == 0) return;
  const Tensor flag = bad_target_flag(logits, stream);
  TRIDENT_CUDA_CHECK(launch_cross_entropy_partial_sums(
      sums.data<float>(), flag_ptr(flag), logits.raw(), row_max.data<float>(), targets.data<int32_t>(), n,
      vocab_start, vocab, logits.dim(1), logits.dtype(), stream));
  check_bad_target(op, flag, vocab, stream);
}

void cross_entropy_partial_loss(Tensor& losses, Tensor& lse, const Tensor& row_max, const Tensor& sums,
                                const Tensor& targets) {
  constexpr std::string_view op = "cross_entropy_partial_loss";
  const cudaStream_t stream = stream_for(op, {&losses, &lse, &row_max, &sums, &targets});
  require_stat_dtype(op, {&losses, &lse, &row_max, &sums});
  TRIDENT_CUDA_CHECK(launch_cross_entropy_partial_loss(losses.data<float>(), lse.data<float>(),
                                                       row_max.data<float>(), sums.data<float>(),
                                                       targets.data<int32_t>(), row_max.numel(), stream));
}

}  // namespace trident::ops::cuda
