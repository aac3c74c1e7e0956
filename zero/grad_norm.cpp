#include "zero/grad_norm.h"

#include "core/ops/ops.h"

namespace trident::zero {

ShardNorm::ShardNorm(const ParamSet& params, const Shard& shard, int tp) {
  const auto add = [&](int64_t flat, int64_t n, double weight) {
    for (const Piece& p : shard.intersect(flat, n)) segments_.push_back({p.shard, p.n, weight});
  };
  for (const Param& p : params.params()) {
    if (p.duplicate) continue;
    const int64_t n = p.value.numel();
    if (p.shard.replicated()) {
      add(p.flat_offset, n, 1.0 / tp);
    } else if (p.shard.block_replicas.empty()) {
      add(p.flat_offset, n, 1.0);
    } else {
      TRIDENT_CHECK(p.shard.dim == 0, "{}: replicated blocks are supported along dim 0 only", p.name);
      const std::vector<int64_t> blocks = p.shard.blocks(p.global_shape);
      const int64_t inner = n / p.value.dim(0);
      int64_t row = 0;
      for (size_t b = 0; b < blocks.size(); ++b) {
        const int rep = p.shard.replicas(b);
        const int64_t rows = blocks[b] / (p.shard.parts / rep);
        add(p.flat_offset + row * inner, rows * inner, 1.0 / rep);
        row += rows;
      }
    }
  }
}

double ShardNorm::squares(const Tensor& grads) const {
  double sum = 0.0;
  for (const Segment& s : segments_) sum += s.weight * ops::sum_squares(grads.flat(s.shard, {s.n}));
  return sum;
}

}  // namespace trident::zero
