#include "core/ops/layout.h"

#include <cstring>

#include "core/ops/cpu/cpu_common.h"
#include "core/ops/cuda/cuda_ops.h"

namespace trident::ops {

namespace {

struct Block {
  char* base;
  int64_t row_bytes;
};

// Copies column blocks between the fused tensor and its parts; to_parts picks the direction.
void copy_blocks(const Tensor& fused, const std::vector<Block>& parts, bool to_parts) {
  const size_t es = dtype_size(fused.dtype());
  const int64_t fused_cols = fused.dim(-1);
  const int64_t rows = fused.numel() / fused_cols;
  int64_t total = 0;
  for (const Block& b : parts) total += b.row_bytes;
  TRIDENT_CHECK(total == fused_cols * static_cast<int64_t>(es), "blocks of {} bytes per row vs fused {}",
                total, fused_cols * es);
  char* f = static_cast<char*>(fused.raw());
  // A decoding step copies a row or two: an OpenMP team there costs far more than the copy.
  const int64_t elements = fused.numel();
#pragma omp parallel for if (elements > cpu::kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    char* row = f + r * fused_cols * es;
    for (const Block& b : parts) {
      char* part = b.base + r * b.row_bytes;
      if (to_parts) {
        std::memcpy(part, row, b.row_bytes);
      } else {
        std::memcpy(row, part, b.row_bytes);
      }
      row += b.row_bytes;
    }
  }
}

Block block_of(const Tensor& t, const Tensor& fused) {
  TRIDENT_CHECK(t.dtype() == fused.dtype() && t.device().is_cpu(), "part {} vs fused {}", t.str(),
                fused.str());
  const int64_t rows = fused.numel() / fused.dim(-1);
  TRIDENT_CHECK(t.numel() % rows == 0, "part {} does not have {} rows", t.str(), rows);
  return {static_cast<char*>(t.raw()), static_cast<int64_t>(t.numel() / rows * dtype_size(t.dtype()))};
}

}  // namespace

void split_last_dim(const Tensor& in, const std::vector<Tensor*>& outs) {
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(in)) return cuda::split_last_dim(in, outs);
  std::vector<Block> blocks;
  for (Tensor* t : outs) blocks.push_back(block_of(*t, in));
  copy_blocks(in, blocks, true);
}

void concat_last_dim(Tensor& out, const std::vector<const Tensor*>& ins) {
  if constexpr (cuda::kBuilt)
    if (cuda::on_gpu(out)) return cuda::concat_last_dim(out, ins);
  std::vector<Block> blocks;
  for (const Tensor* t : ins) blocks.push_back(block_of(*t, out));
  copy_blocks(out, blocks, false);
}

}  // namespace trident::ops
