#pragma once
// TracedCommunicator: a Communicator that records every op of the group it wraps as a span (core/runtime/
// spans.h) when the recorder is on: one span from launch to the moment its completion is first seen, on a
// track named by the group, and the time a wait() blocks as a span on the waiting thread. ParallelModel wraps
// each group it makes, so the profiler and the trace see bucket all-reduces overlapping backward as they
// happen. With the recorder off it only forwards.
//
// Completion is seen when the caller polls (test()) or waits. On MPI without an asynchronous progress thread
// an op also moves its data only when the library is entered, which is why GradReducer polls the buckets in
// flight each time backward reports progress. On NCCL (comm.backend nccl) the span likewise ends when the
// host first sees the op's CUDA event complete, which can be later than the GPU finished it. TODO: device
// timing from timing-enabled CUDA events around each NCCL op (cudaEventElapsedTime; NcclCommunicator's events
// are created with cudaEventDisableTiming today), so spans show when the transfer ran rather than when it was
// noticed (core/runtime/span_clock.h times the compute stream that way; the NCCL stream would need its own).
#include <memory>
#include <string>

#include "core/comm/communicator.h"
#include "core/runtime/spans.h"

namespace trident {

class TracedCommunicator final : public comm::Communicator {
 public:
  explicit TracedCommunicator(std::unique_ptr<comm::Communicator> inner);

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  int global_rank() const override { return inner_->global_rank(); }
  const std::string& name() const override { return inner_->name(); }
  const comm::CommLog& log() const override { return inner_->log(); }

  comm::WorkPtr all_reduce_async(Tensor& t, comm::ReduceOp op) override;
  comm::WorkPtr reduce_scatter_async(Tensor& out, const Tensor& in, comm::ReduceOp op) override;
  comm::WorkPtr all_gather_async(Tensor& out, const Tensor& in) override;
  comm::WorkPtr broadcast_async(Tensor& t, int root) override;
  comm::WorkPtr send_async(const Tensor& t, int peer, int tag = 0) override;
  comm::WorkPtr recv_async(Tensor& t, int peer, int tag = 0) override;
  comm::WorkPtr all_to_all_async(Tensor& out, const Tensor& in) override;
  comm::WorkPtr all_to_allv_async(Tensor& out, const std::vector<int64_t>& recv_counts, const Tensor& in,
                                  const std::vector<int64_t>& send_counts) override;
  comm::WorkPtr barrier_async() override;
  void flush() override { inner_->flush(); }
  std::unique_ptr<comm::Communicator> split(const std::vector<int>& ranks, const std::string& name) override;

 private:
  // Records the op (launched by `launch`) on this group's track.
  template <typename Launch>
  comm::WorkPtr traced(const char* op, const Tensor* t, Launch&& launch);

  std::unique_ptr<comm::Communicator> inner_;
};

// The span kind of an op on a group, from the group's name as ParallelModel gives it ("tp[0,1]",
// "dp-cp[0,2]", "pp[0,4].embedding", "zero_shard[0,1]", ...).
spans::Kind comm_kind(const std::string& group, const std::string& op);

}  // namespace trident
