#pragma once
// Regions of a global tensor: how a checkpoint says which elements a stored piece holds, whatever layout
// wrote it, and how a rank of another layout finds the elements it needs (resharding on load).
//
// A region is a box of the global tensor, [offsets, offsets + extents) in every dimension (a tensor-parallel,
// pipeline or expert slice, or the whole tensor), and of the box's elements in row-major order the range
// [begin, end) (a ZeRO shard cuts a chunk's flat buffers anywhere, so it holds a flat range of a box).
#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor/param_set.h"

namespace trident::io {

struct Region {
  Shape offsets, extents;
  int64_t begin = 0, end = 0;

  int64_t numel() const { return end - begin; }
  // The whole box, or the whole tensor of shape `global`.
  static Region box(Shape offsets, Shape extents);
  static Region whole(const Shape& global);
};

// A stretch of a parameter's local tensor and the region of the global tensor it holds: local flat elements
// [local, local + region.numel()) are the region's elements in order.
struct LocalRegion {
  int64_t local = 0;
  Region region;
};

// The regions that local elements [begin, end) of a parameter cut from `global` by `spec` hold, in local
// order. A shard of a fused weight (ShardSpec segments: qkv, gate_up) is one box per block; it must be cut
// along dim 0 then, where each block's rows are contiguous in the local tensor.
std::vector<LocalRegion> local_regions(const ShardSpec& spec, const Shape& global, int64_t begin,
                                       int64_t end);

// Calls fn(want_index, have_index, n) for every run of n elements that both regions hold, with the runs'
// first positions in each region's own element order ([0, numel())). Both regions are of the same tensor.
void for_each_overlap(const Region& want, const Region& have,
                      const std::function<void(int64_t, int64_t, int64_t)>& fn);

}  // namespace trident::io
