// Softmax over the last dimension: the one entry of each op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {

void softmax_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "softmax_forward";
  checks::require_defined(op, "in", in);
  TRIDENT_CHECK(in.ndim() >= 1, "ops::softmax_forward: in {} has no last dimension", in.str());
  checks::require_shape(op, "out", out, in.shape());
  checks::require_compute_dtype(op, in, {&out});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, in)) return cuda::softmax_forward(out, in);
  cpu::softmax_forward(out, in);
}

void softmax_backward(Tensor& din, const Tensor& dout, const Tensor& out) {
  constexpr std::string_view op = "softmax_backward";
  checks::require_defined(op, "out", out);
  TRIDENT_CHECK(out.ndim() >= 1, "ops::softmax_backward: out {} has no last dimension", out.str());
  checks::require_shape(op, "dout", dout, out.shape());
  checks::require_shape(op, "din", din, out.shape());
  checks::require_compute_dtype(op, out, {&din, &dout});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(din, dout, out)) return cuda::softmax_backward(din, dout, out);
  cpu::softmax_backward(din, dout, out);
}

}  // namespace trident::ops
