// Tensor entry points of the CUDA causal attention (kernels in attention_forward.cu and
// attention_backward.cu): after the checks of core/ops/attention.cpp, this backend's limits, then one launch
// on the device's compute stream. Backward's scratch (delta, and dQ's f32 accumulator for bf16/f16) comes
// from the caching allocator and is released stream-ordered right after the launch.
#include <limits>
#include <string_view>

#include "core/ops/cuda/attention_launch.h"
#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {
namespace {

using AttnShape = checks::AttentionDims;

// The shapes ops::attention_* checked, and the limits of these kernels.
AttnShape attention_shape(std::string_view op, const Tensor& q, const Tensor& k) {
  const AttnShape s = checks::attention_dims(op, q, k);
  TRIDENT_CHECK(s.d <= kAttentionMaxHeadDim,
                "ops::{}: head dim {} is not supported on CUDA (the kernels take head dims up to {})", op,
                s.d, kAttentionMaxHeadDim);
  // The kernels index tokens and heads with int and put H and B on grid dims y and z.
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  TRIDENT_CHECK(s.t < kIntMax && s.h * s.d < kIntMax && s.h <= 65535 && s.b <= 65535,
                "ops::{}: q {} exceeds the CUDA kernels' index range", op, q.str());
  require_kernel_dtype(op, q.dtype());
  return s;
}

}  // namespace

void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v) {
  constexpr std::string_view op = "attention_forward";
  const AttnShape s = attention_shape(op, q, k);
  require_dtype(op, q.dtype(), {&out, &k, &v});
  require_stat_dtype(op, {&lse});
  const cudaStream_t stream = stream_for(op, {&out, &lse, &q, &k, &v});
  TRIDENT_CUDA_CHECK(launch_attention_forward(out.raw(), lse.data<float>(), q.raw(), k.raw(), v.raw(), s.b,
                                              s.t, s.h, s.hkv, s.d, q.dtype(), stream));
}

void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse) {
  constexpr std::string_view op = "attention_backward";
  const AttnShape s = attention_shape(op, q, k);
  require_dtype(op, q.dtype(), {&dq, &dk, &dv, &dout, &k, &v, &out});
  require_stat_dtype(op, {&lse});
  const cudaStream_t stream = stream_for(op, {&dq, &dk, &dv, &dout, &q, &k, &v, &out, &lse});
  Tensor delta = Tensor::empty({s.b, s.h, s.t}, DType::f32, q.device());  // (B, H, T) dout . out per row
  // (B, T, H, D) f32: dQ gathers atomically from every key tile; f32 dq is its own accumulator.
  Tensor dq_accum = q.dtype() == DType::f32 ? dq : Tensor::empty(q.shape(), DType::f32, q.device());
  TRIDENT_CUDA_CHECK(launch_attention_backward(
      dq.raw(), dk.raw(), dv.raw(), dout.raw(), q.raw(), k.raw(), v.raw(), out.raw(), lse.data<float>(),
      delta.data<float>(), dq_accum.data<float>(), s.b, s.t, s.h, s.hkv, s.d, q.dtype(), stream));
}

}  // namespace trident::ops::cuda
