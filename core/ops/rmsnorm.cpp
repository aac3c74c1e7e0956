// RMSNorm: the one entry of each op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {
namespace {

using namespace checks;

// weight (C), out like `in`, rstd (N).
void check_forward(std::string_view op, const Tensor& out, const Tensor& rstd, const Tensor& in,
                   const Tensor& weight) {
  const int64_t n = channel_rows(op, in, weight);
  require_shape(op, "out", out, in.shape());
  require_numel(op, "rstd", rstd, n);
  require_compute_dtype(op, in, {&out, &rstd, &weight});
}

}  // namespace

void rmsnorm_forward(Tensor& out, Tensor& rstd, const Tensor& in, const Tensor& weight, double eps) {
  check_forward("rmsnorm_forward", out, rstd, in, weight);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, rstd, in, weight)) return cuda::rmsnorm_forward(out, rstd, in, weight, eps);
  cpu::rmsnorm_forward(out, rstd, in, weight, eps);
}

void rmsnorm_backward(Tensor& din, Tensor& dweight, const Tensor& dout, const Tensor& in,
                      const Tensor& weight, const Tensor& rstd) {
  constexpr std::string_view op = "rmsnorm_backward";
  const int64_t n = channel_rows(op, in, weight);
  const int64_t c = weight.dim(0);
  require_shape(op, "dout", dout, in.shape());
  if (din.defined()) require_shape(op, "din", din, in.shape());
  if (dweight.defined()) require_shape(op, "dweight", dweight, {c});
  require_numel(op, "rstd", rstd, n);
  require_compute_dtype(op, in, {&din, &dweight, &dout, &weight, &rstd});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(din, dweight, dout, in, weight, rstd))
      return cuda::rmsnorm_backward(din, dweight, dout, in, weight, rstd);
  cpu::rmsnorm_backward(din, dweight, dout, in, weight, rstd);
}

void residual_rmsnorm_forward(Tensor& residual, Tensor& out, Tensor& rstd, const Tensor& x, const Tensor& y,
                              const Tensor& weight, double eps) {
  constexpr std::string_view op = "residual_rmsnorm_forward";
  require_defined(op, "x", x);
  require_shape(op, "y", y, x.shape());
  require_shape(op, "residual", residual, x.shape());
  require_compute_dtype(op, x, {&y, &residual});
  check_forward(op, out, rstd, x, weight);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(residual, out, rstd, x, y, weight))
      return cuda::residual_rmsnorm_forward(residual, out, rstd, x, y, weight, eps);
  cpu::add(residual, x, y);  // on the CPU, fusing saves nothing: the reference is the two ops
  cpu::rmsnorm_forward(out, rstd, residual, weight, eps);
}

}  // namespace trident::ops
