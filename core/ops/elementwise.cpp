// Elementwise helpers: the one entry of each op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {

using namespace checks;

void add(Tensor& out, const Tensor& a, const Tensor& b) {
  constexpr std::string_view op = "add";
  require_defined(op, "a", a);
  require_numel(op, "b", b, a.numel());
  require_numel(op, "out", out, a.numel());
  require_compute_dtype(op, a, {&out, &b});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, a, b)) return cuda::add(out, a, b);
  cpu::add(out, a, b);
}

void add_inplace(Tensor& a, const Tensor& b) {
  constexpr std::string_view op = "add_inplace";
  require_defined(op, "a", a);
  require_numel(op, "b", b, a.numel());
  require_compute_dtype(op, a, {&b});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(a, b)) return cuda::add_inplace(a, b);
  cpu::add(a, a, b);
}

void scale_inplace(Tensor& a, double s) {
  require_defined("scale_inplace", "a", a);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(a)) return cuda::scale_inplace(a, s);
  cpu::scale_inplace(a, s);
}

double sum_squares(const Tensor& a) {
  require_defined("sum_squares", "a", a);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(a)) return cuda::sum_squares(a);
  return cpu::sum_squares(a);
}

}  // namespace trident::ops
