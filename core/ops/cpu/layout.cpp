// The layout copies on CPU: column blocks between a fused (N, C0 + C1 + ...) tensor and its parts, as bytes.
#include <cstring>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cpu/cpu_kernels.h"

namespace trident::ops::cpu {

void copy_column_blocks(const Tensor& fused, const std::vector<const Tensor*>& parts, bool to_parts) {
  const int64_t es = static_cast<int64_t>(dtype_size(fused.dtype()));
  const int64_t fused_cols = fused.dim(-1);
  int64_t rows = 1;  // the leading dimensions, which the parts share
  for (int i = 0; i + 1 < fused.ndim(); ++i) rows *= fused.dim(i);
  if (rows == 0 || fused_cols == 0) return;
  std::vector<std::pair<char*, int64_t>> blocks;  // (part's data, bytes per row)
  for (const Tensor* t : parts) blocks.emplace_back(static_cast<char*>(t->raw()), t->numel() / rows * es);
  char* f = static_cast<char*>(fused.raw());
  // A decoding step copies a row or two: an OpenMP team there costs far more than the copy.
  const int64_t elements = fused.numel();
#pragma omp parallel for if (elements > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    char* row = f + r * fused_cols * es;
    for (const auto& [base, row_bytes] : blocks) {
      char* part = base + r * row_bytes;
      if (to_parts) {
        std::memcpy(part, row, row_bytes);
      } else {
        std::memcpy(row, part, row_bytes);
      }
      row += row_bytes;
    }
  }
}

}  // namespace trident::ops::cpu
