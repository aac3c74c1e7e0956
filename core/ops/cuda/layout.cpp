// Layout ops on CUDA: a fused (N, C0 + C1 + ...) tensor cut into its column blocks and back, after the checks
// of core/ops/layout.cpp. Each block is one strided copy (cudaMemcpy2DAsync) on the compute stream: no
// kernel, any dtype.
#include <string_view>
#include <vector>

#include "core/ops/cuda/cuda_op_util.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops::cuda {

void copy_column_blocks(std::string_view op, const Tensor& fused, const std::vector<const Tensor*>& parts,
                        bool to_parts) {
  const cudaStream_t stream = stream_for(op, {&fused});
  const int64_t es = static_cast<int64_t>(dtype_size(fused.dtype()));
  const int64_t fused_row_bytes = fused.dim(-1) * es;
  int64_t rows = 1;  // the leading dimensions, which the parts share
  for (int i = 0; i + 1 < fused.ndim(); ++i) rows *= fused.dim(i);

  if (rows == 0) return;
  std::vector<int64_t> row_bytes;  // per part
  for (const Tensor* t : parts) row_bytes.push_back(t->numel() / rows * es);

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

}  // namespace trident::ops::cuda
