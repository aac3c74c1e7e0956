// Layout ops: the one entry of each op: argument checks, then the backend.
#include "core/ops/layout.h"

#include "core/ops/cpu/cpu_kernels.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops {
namespace {

// fused (N, sum Ci) and its parts (N, Ci): one dtype and one device, the parts' widths adding up to fused's.
void check_blocks(std::string_view op, const Tensor& fused, const std::vector<const Tensor*>& parts) {
  TRIDENT_CHECK(fused.defined() && fused.ndim() >= 1, "ops::{}: fused tensor {} should be (N, C)", op,
                fused.defined() ? fused.str() : std::string("undefined"));
  int64_t rows = 1;  // the leading dimensions, which the parts share
  for (int i = 0; i + 1 < fused.ndim(); ++i) rows *= fused.dim(i);
  int64_t columns = 0;
  for (const Tensor* t : parts) {
    TRIDENT_CHECK(t->defined() && t->dtype() == fused.dtype() && t->device() == fused.device(),
                  "ops::{}: part {} vs fused {}", op, t->defined() ? t->str() : std::string("undefined"),
                  fused.str());
    TRIDENT_CHECK(rows == 0 ? t->numel() == 0 : t->numel() % rows == 0,
                  "ops::{}: part {} does not have {} rows", op, t->str(), rows);
    columns += rows == 0 ? 0 : t->numel() / rows;
  }
  TRIDENT_CHECK(rows == 0 || columns == fused.dim(-1), "ops::{}: blocks of {} columns per row vs fused {}",
                op, columns, fused.str());
}

}  // namespace

void split_last_dim(const Tensor& in, const std::vector<Tensor*>& outs) {
  const std::vector<const Tensor*> parts(outs.begin(), outs.end());
  check_blocks("split_last_dim", in, parts);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(in)) return cuda::copy_column_blocks("split_last_dim", in, parts, true);
  cpu::copy_column_blocks(in, parts, true);
}

void concat_last_dim(Tensor& out, const std::vector<const Tensor*>& ins) {
  check_blocks("concat_last_dim", out, ins);
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out)) return cuda::copy_column_blocks("concat_last_dim", out, ins, false);
  cpu::copy_column_blocks(out, ins, false);
}

}  // namespace trident::ops
