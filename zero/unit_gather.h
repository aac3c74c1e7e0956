#pragma once
// ZeRO stage 3: a chunk's parameters live only as this rank's pieces (the optimizer's fp32 shard). The
// chunk's flat layout has one unit per bucket (the embedding, each block, the head), and a unit is
// all-gathered over the group into a pooled buffer just before a forward or a backward needs it: its
// parameters' value views are bound there, and unbound when it is released. While a unit computes, the next
// `prefetch` units (in that pass's order: forward up, backward down) are gathered asynchronously.
//
// With reshard_after_forward (FSDP's default), a unit is released after its forward and gathered again for
// its backward: the least memory. Without it, a unit gathered for a forward stays until its backward has run
// (the whole model is gathered between a micro-batch's forward and backward, with one all-gather fewer per
// unit).
#include <cstdint>
#include <vector>

#include "core/comm/communicator.h"
#include "core/tensor/param_set.h"
#include "zero/comm_trace.h"
#include "zero/flat_layout.h"

namespace trident::zero {

class UnitGather {
 public:
  // params: the chunk laid out as `layout` (its flat parameter buffer is dropped here); values: this rank's
  // pieces in fp32, in the shard's layout (read at every gather, in the model's dtype); unit_reads[u]: the
  // units whose parameters unit u's forward and backward read (models::Transformer::units_read).
  // trace: where gathers are recorded (may be null).
  UnitGather(ParamSet& params, const FlatLayout& layout, comm::Communicator& group, Tensor values,
             const Shard& shard, std::vector<std::vector<size_t>> unit_reads, int prefetch,
             bool reshard_after_forward, CommTrace* trace = nullptr);

  void forward_begin(size_t unit);
  void forward_end(size_t unit);
  void backward_begin(size_t unit);
  void backward_end(size_t unit);
  // The values are about to change (the optimizer step): every gathered or prefetched unit is let go.
  void release_all();

  int64_t pool_bytes() const;  // the gather buffers allocated so far
  int64_t gathers() const { return gathers_; }

 private:
  struct State {
    int buffer = -1;  // the pool buffer holding it, or -1
    int refs = 0;     // forwards and backwards using it now
    bool bound = false;
    comm::WorkPtr work;  // its all-gather, while in flight
    Tensor in;           // the piece it sends, kept alive until then
    size_t event = 0;    // its CommTrace event
  };
  void start(size_t bucket);
  void acquire(size_t bucket);
  void release(size_t bucket, bool keep);
  void prefetch_from(size_t unit, int direction);
  void poll();  // stamps the gathers that have completed

  ParamSet& params_;
  FlatLayout layout_;
  comm::Communicator& group_;
  Tensor values_;
  Shard shard_;
  std::vector<std::vector<size_t>> unit_reads_;
  int prefetch_;
  bool reshard_after_forward_;
  std::vector<State> state_;
  std::vector<std::vector<size_t>> bucket_params_;
  std::vector<Tensor> pool_;
  std::vector<int> free_;
  int64_t max_bucket_ = 0, gathers_ = 0;
  CommTrace* trace_;
};

}  // namespace trident::zero
