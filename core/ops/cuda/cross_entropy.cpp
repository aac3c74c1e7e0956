// Cross-entropy on CUDA: the Tensor entry points (checks as on the CPU, then the launchers of
// cross_entropy.cu). Targets live on the device, so they are checked by the kernels and reported here after
// one synchronizing read-back.
#include "core/ops/cuda/cross_entropy_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {
namespace {

constexpr unsigned long long kNoBadTarget = ~0ull;

// Shapes: logits (N, Vp), targets (N) i32. Returns N.
int64_t check_cross_entropy(std::string_view op, const Tensor& logits, const Tensor& targets, int64_t vocab) {
  require_defined(op, "logits", logits);
  require_defined(op, "targets", targets);
  TRIDENT_CHECK(logits.ndim() == 2, "ops::{}: logits {} should be (N, Vp)", op, logits.str());
  TRIDENT_CHECK(0 < vocab && vocab <= logits.dim(1), "ops::{}: vocab {} outside (0, {}] for logits {}", op,
                vocab, logits.dim(1), logits.str());
  TRIDENT_CHECK(targets.dtype() == DType::i32, "ops::{}: targets {} should hold i32", op, targets.str());
  require_kernel_dtype(op, logits.dtype());
  const int64_t n = logits.dim(0);
  require_numel(op, "targets", targets, n);
  return n;
}

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
  const int64_t n = check_cross_entropy(op, logits, targets, vocab);
  require_numel(op, "losses", losses, n);
  require_numel(op, "lse", lse, n);
  require_stat_dtype(op, {&losses, &lse});
  if (n == 0) return;
  const Tensor flag = bad_target_flag(logits, stream);
  TRIDENT_CUDA_CHECK(launch_cross_entropy_forward(losses.data<float>(), lse.data<float>(), flag_ptr(flag),
                                                  logits.raw(), targets.data<int32_t>(), n, vocab,
                                                  logits.dim(1), logits.dtype(), stream));
  check_bad_target(op, flag, vocab, stream);
}

void cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse, const Tensor& targets,
                            int64_t vocab, double dloss_scale) {
  constexpr std::string_view op = "cross_entropy_backward";
  const cudaStream_t stream = stream_for(op, {&dlogits, &logits, &lse, &targets});
  const int64_t n = check_cross_entropy(op, logits, targets, vocab);
  require_shape(op, "dlogits", dlogits, logits.shape());
  require_numel(op, "lse", lse, n);
  require_dtype(op, logits.dtype(), {&dlogits});
  require_stat_dtype(op, {&lse});
  if (n == 0) return;
  const Tensor flag = bad_target_flag(logits, stream);
  TRIDENT_CUDA_CHECK(launch_cross_entropy_backward(
      dlogits.raw(), flag_ptr(flag), logits.raw(), lse.data<float>(), targets.data<int32_t>(), n, vocab,
      logits.dim(1), static_cast<float>(dloss_scale), logits.dtype(), stream));
  check_bad_target(op, flag, vocab, stream);
}

}  // namespace trident::ops::cuda
