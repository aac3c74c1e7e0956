// Rotary position embedding: the one entry of each op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {
namespace {

using namespace checks;

// x (B, T, H, D) with D even; out (or din) of its shape.
void check_rope(std::string_view op, const Tensor& out, const Tensor& in, double theta) {
  require_defined(op, "in", in);
  TRIDENT_CHECK(in.ndim() == 4 && in.dim(3) % 2 == 0, "ops::{}: input {} should be (B, T, H, D) with D even",
                op, in.str());
  TRIDENT_CHECK(theta > 0, "ops::{}: theta {} should be positive", op, theta);
  require_shape(op, "out", out, in.shape());
  require_compute_dtype(op, in, {&out});
}

}  // namespace

void rope_forward(Tensor& out, const Tensor& in, double theta, int64_t pos0) {
  check_rope("rope_forward", out, in, theta);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, in)) return cuda::rope_forward(out, in, theta, pos0);
  cpu::rope_forward(out, in, theta, pos0);
}

void rope_backward(Tensor& din, const Tensor& dout, double theta, int64_t pos0) {
  check_rope("rope_backward", din, dout, theta);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(din, dout)) return cuda::rope_backward(din, dout, theta, pos0);
  cpu::rope_backward(din, dout, theta, pos0);
}

}  // namespace trident::ops
