#pragma once
// FlatLayout: where each parameter of a model chunk sits in its flat parameter and gradient buffers, as the
// gradient path needs them (Megatron-core's param_and_grad_buffer). Parameters keep the reverse registration
// (= execution) order, so backward fills the buffers front to back; whole units (what the model computes in
// one go: the head, each block, the embedding) are grouped into buckets of about `bucket_numel` elements, and
// each bucket is padded so that it splits into `shards` equal pieces of a multiple of kAlign elements. Rank r
// of a shard group owns piece r of every bucket (ZeRO's partition); with one shard the padding only aligns.
//
//   flat:   | bucket 0: head, last blocks | pad | bucket 1: ... , embedding | pad |
//   shards: | piece 0 | piece 1 | ...       per bucket, (end - begin) / shards elements each
#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor/param_set.h"

namespace trident::zero {

// 64 elements: 256 bytes of fp32, so every piece starts on a boundary any vector unit or NCCL likes.
inline constexpr int64_t kAlign = 64;

struct Bucket {
  int64_t begin = 0, data_end = 0, end = 0;  // [begin, data_end) parameters, [data_end, end) padding
  int64_t piece(int shards) const { return (end - begin) / shards; }
};

struct FlatLayout {
  std::vector<int64_t> offsets;     // per parameter, in registration order
  int64_t total = 0;                // elements of each flat buffer, padding included
  std::vector<Bucket> buckets;      // in flat order: bucket 0 is final first in backward
  std::vector<size_t> unit_bucket;  // per unit (registration order): the bucket holding it

  // The units bucket b holds: [first, last] in registration order.
  std::pair<int, int> bucket_units(size_t b) const;
  int shards = 1;
};

// units: [first, last) parameter indices in registration order (models::Transformer::units()). A unit larger
// than bucket_numel is a bucket of its own; units are never split.
FlatLayout plan_flat_layout(const ParamSet& params, const std::vector<std::pair<size_t, size_t>>& units,
                            int64_t bucket_numel, int shards);

// A flat range [flat, flat + n) stored at offset `shard` of a shard buffer.
struct Piece {
  int64_t flat = 0, n = 0, shard = 0;
};

// This rank's part of a chunk's flat buffers: piece `rank` of every bucket, packed in flat order into a shard
// of `numel` elements, where the optimizer keeps its fp32 gradients, master weights and moments. With one
// shard it is the whole buffer.
struct Shard {
  std::vector<Piece> pieces;
  int64_t numel = 0;

  // The parts of flat range [flat, flat + n) this shard holds, in flat order.
  std::vector<Piece> intersect(int64_t flat, int64_t n) const;
};
Shard shard_of(const FlatLayout& layout, int rank);

}  // namespace trident::zero
