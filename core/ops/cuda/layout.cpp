// Layout ops on CUDA: a fused (N, C0 + C1 + ...) tensor cut into its column blocks and back. Each block is
// one strided copy (cudaMemcpy2DAsync) on the compute stream: no kernel, any dtype.
#include <string_view>
#include <vector>

#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"
#include "core/ops/layout.h"

namespace trident::ops::cuda {
namespace {

// Copies the column blocks `parts` out of `fused` (to_parts) or into it, with the CPU op's checks.
void copy_blocks(std::string_view op, const Tensor& fused, const std::vector<const Tensor*>& parts,
                 bool to_parts) {
  TRIDENT_CHECK(fused.defined() && fused.ndim() >= 1, "ops::{}: fused tensor {} should be (N, C)", op,
                fused.defined() ? fused.str() : std::string("undefined"));
  const cudaStream_t stream = stream_for(op, {&fused});
  const int64_t es = static_cast<int64_t>(dtype_size(fused.dtype()));
  const int64_t fused_row_bytes = fused.dim(-1) * es;
  int64_t rows = 1;  // the leading dimensions, which the parts share
  for (int i = 0; i + 1 < fused.ndim(); ++i) rows *= fused.dim(i);

  std::vector<int64_t> row_bytes;  // per part
  int64_t total = 0;
  for (const Tensor* t : parts) {
    TRIDENT_CHECK(t->defined() && t->dtype() == fused.dtype() && t->device() == fused.device(),
                  "ops::{}: part {} vs fused {}", op, t->defined() ? t->str() : std::string("undefined"),
                  fused.str());
    if (rows == 0) {
      TRIDENT_CHECK(t->numel() == 0, "ops::{}: part {} does not have {} rows", op, t->str(), rows);
      row_bytes.push_back(0);
      continue;
    }
    TRIDENT_CHECK(t->numel() % rows == 0, "ops::{}: part {} does not have {} rows", op, t->str(), rows);
    row_bytes.push_back(t->numel() / rows * es);
    total += row_bytes.back();
  }
  if (rows == 0) return;
  TRIDENT_CHECK(total == fused_row_bytes, "ops::{}: blocks of {} bytes per row vs fused {}", op, total,
                fused_row_bytes);

  char* fused_base = static_cast<char*>(fused.raw());
  int64_t column_byte = 0;  // where the part's block starts within a fused row
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto width = static_cast<size_t>(row_bytes[i]);
    if (width > 0) {
      char* block = fused_base + column_byte;
      char* part = static_cast<char*>(parts[i]->raw());
      const auto fused_pitch = static_cast<size_t>(fused_row_bytes);
      const auto height = static_cast<size_t>(rows);
      if (to_parts) {
        TRIDENT_CUDA_CHECK(cudaMemcpy2DAsync(part, width, block, fused_pitch, width, height,
                                             cudaMemcpyDeviceToDevice, stream));
      } else {
        TRIDENT_CUDA_CHECK(cudaMemcpy2DAsync(block, fused_pitch, part, width, width, height,
                                             cudaMemcpyDeviceToDevice, stream));
      }
    }
    column_byte += row_bytes[i];
  }
}

}  // namespace

void split_last_dim(const Tensor& in, const std::vector<Tensor*>& outs) {
  const std::vector<const Tensor*> parts(outs.begin(), outs.end());
  copy_blocks("split_last_dim", in, parts, true);
}

void concat_last_dim(Tensor& out, const std::vector<const Tensor*>& ins) {
  copy_blocks("concat_last_dim", out, ins, false);
}

}  // namespace trident::ops::cuda
