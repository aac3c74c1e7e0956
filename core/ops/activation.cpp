// Elementwise activations: the one entry of each op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {
namespace {

using namespace checks;

// swiglu's in (N, 2F) and its (N, F) partner `half` (out or dout).
void check_swiglu(std::string_view op, const Tensor& in, std::string_view half_name, const Tensor& half) {
  require_defined(op, "in", in);
  require_defined(op, half_name, half);
  TRIDENT_CHECK(in.ndim() >= 1 && in.dim(-1) % 2 == 0, "ops::{}: in {} should be (N, 2F)", op, in.str());
  const int64_t f = in.dim(-1) / 2;
  const int64_t n = rows_of(op, "in", in, 2 * f);
  TRIDENT_CHECK(rows_of(op, half_name, half, f) == n, "ops::{}: {} {} should be (N, F) for in {}", op,
                half_name, half.str(), in.str());
}

}  // namespace

void gelu_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "gelu_forward";
  require_defined(op, "in", in);
  require_shape(op, "out", out, in.shape());
  require_compute_dtype(op, in, {&out});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, in)) return cuda::gelu_forward(out, in);
  cpu::gelu_forward(out, in);
}

void gelu_backward(Tensor& din, const Tensor& dout, const Tensor& in) {
  constexpr std::string_view op = "gelu_backward";
  require_defined(op, "in", in);
  require_shape(op, "dout", dout, in.shape());
  require_shape(op, "din", din, in.shape());
  require_compute_dtype(op, in, {&din, &dout});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(din, dout, in)) return cuda::gelu_backward(din, dout, in);
  cpu::gelu_backward(din, dout, in);
}

void swiglu_forward(Tensor& out, const Tensor& in) {
  constexpr std::string_view op = "swiglu_forward";
  check_swiglu(op, in, "out", out);
  require_compute_dtype(op, in, {&out});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, in)) return cuda::swiglu_forward(out, in);
  cpu::swiglu_forward(out, in);
}

void swiglu_backward(Tensor& din, const Tensor& dout, const Tensor& in) {
  constexpr std::string_view op = "swiglu_backward";
  check_swiglu(op, in, "dout", dout);
  require_shape(op, "din", din, in.shape());
  require_compute_dtype(op, in, {&din, &dout});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(din, dout, in)) return cuda::swiglu_backward(din, dout, in);
  cpu::swiglu_backward(din, dout, in);
}

}  // namespace trident::ops
