// Row ops (MoE gate arithmetic): the one entry of each op: argument checks, then the CPU kernel, the only one
// so far.
#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/op_checks.h"

namespace trident::ops {
namespace {

using namespace checks;

void require_no_gpu(std::string_view op, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (t->defined() && !t->device().is_cpu())
      fail("ops::{}: {} is on {}; this op has no CUDA kernel yet (MoE runs on CPU ranks)", op, t->str(),
           t->device().str());
}

}  // namespace

void scale_rows(Tensor& out, const Tensor& in, const Tensor& scale) {
  constexpr std::string_view op = "scale_rows";
  require_no_gpu(op, {&out, &in, &scale});
  require_defined(op, "in", in);
  TRIDENT_CHECK(in.ndim() == 2, "ops::scale_rows: in {} must be (M, C)", in.str());
  require_shape(op, "out", out, in.shape());
  require_shape(op, "scale", scale, {in.dim(0)});
  require_dtype(op, stat_dtype(in.dtype()), {&scale});
  require_dtype(op, in.dtype(), {&out});
  cpu::scale_rows(out, in, scale);
}

void row_dot(Tensor& out, const Tensor& a, const Tensor& b) {
  constexpr std::string_view op = "row_dot";
  require_no_gpu(op, {&out, &a, &b});
  require_defined(op, "a", a);
  TRIDENT_CHECK(a.ndim() == 2, "ops::row_dot: a {} must be (M, C)", a.str());
  require_shape(op, "b", b, a.shape());
  require_shape(op, "out", out, {a.dim(0)});
  require_dtype(op, a.dtype(), {&b});
  require_dtype(op, stat_dtype(a.dtype()), {&out});
  cpu::row_dot(out, a, b);
}

}  // namespace trident::ops
