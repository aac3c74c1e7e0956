// The bias add outside a GEMM: the one entry of the op: argument checks, then the backend.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/op_checks.h"

namespace trident::ops {

void add_bias(Tensor& out, const Tensor& bias) {
  constexpr std::string_view op = "add_bias";
  checks::require_defined(op, "bias", bias);
  TRIDENT_CHECK(bias.ndim() == 1, "ops::add_bias: bias {} should be (C)", bias.str());
  checks::rows_of(op, "out", out, bias.dim(0));
  checks::require_compute_dtype(op, out, {&bias});
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out, bias)) return cuda::add_bias(out, bias);
  cpu::add_bias(out, bias);
}

}  // namespace trident::ops
