// Causal self-attention: the one entry of each op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {
namespace {

using namespace checks;

// q (B, T, H, D), k and v (B, T, Hkv, D), out (or dout) like q, lse (B, H, T).
AttentionDims check_attention(std::string_view op, const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& lse) {
  const AttentionDims s = attention_dims(op, q, k);
  require_shape(op, "k", k, {s.b, s.t, s.hkv, s.d});
  require_shape(op, "v", v, {s.b, s.t, s.hkv, s.d});
  require_shape(op, "lse", lse, {s.b, s.h, s.t});
  return s;
}

}  // namespace

void attention_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v) {
  constexpr std::string_view op = "attention_forward";
  check_attention(op, q, k, v, lse);
  require_shape(op, "out", out, q.shape());
  require_compute_dtype(op, q, {&out, &lse, &k, &v});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, lse, q, k, v)) return cuda::attention_forward(out, lse, q, k, v);
  cpu::attention_forward(out, lse, q, k, v);
}

void attention_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                        const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse) {
  constexpr std::string_view op = "attention_backward";
  check_attention(op, q, k, v, lse);
  require_shape(op, "dout", dout, q.shape());
  require_shape(op, "out", out, q.shape());
  require_shape(op, "dq", dq, q.shape());
  require_shape(op, "dk", dk, k.shape());
  require_shape(op, "dv", dv, v.shape());
  require_compute_dtype(op, q, {&dq, &dk, &dv, &dout, &k, &v, &out, &lse});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(dq, dk, dv, dout, q, k, v, out, lse))
      return cuda::attention_backward(dq, dk, dv, dout, q, k, v, out, lse);
  cpu::attention_backward(dq, dk, dv, dout, q, k, v, out, lse);
}

}  // namespace trident::ops
