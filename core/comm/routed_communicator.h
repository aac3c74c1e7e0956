#pragma once
// RoutedCommunicator: one training group over two backends. Ops on device tensors go to `device` (the NCCL
// communicator on this rank's GPU); ops on host tensors (the step's loss and metrics, MoE statistics,
// checkpoint gathering) and barriers go to `host` (the group's MPI communicator, or LocalCommunicator on one
// rank), as do ops mixing host and device tensors (MPI stages the device ones) and reductions of a type NCCL
// lacks (u16). Both backends see the same ops in the same order on every rank, so each keeps its own
// matching; the watchdog watches each backend's log (the NCCL one named "<group> (nccl)"), and this
// communicator keeps the group's own log of every op, whichever way it went (per-op totals, sequence).
//
// Before an op goes to the host, `device` is flushed: NCCL holds point-to-point ops back to group them, and a
// peer may need those messages before it reaches the same host op.
//
// p2p_on_device = false sends every send and recv through `host` (MPI, staging device buffers): NCCL's
// grouped point-to-point couples a recv's completion to the sends posted with it, which deadlocks the
// interleaved pipeline schedule (tests/unit/test_p2p_order.cpp runs every schedule under those rules).
#include <memory>
#include <string>
#include <vector>

#include "core/comm/communicator.h"

namespace trident::comm {

class RoutedCommunicator final : public Communicator {
 public:
  // `host` and `device` span the same ranks in the same order.
  RoutedCommunicator(std::unique_ptr<Communicator> host, std::unique_ptr<Communicator> device,
                     bool p2p_on_device = true);

  Communicator& host() { return *host_; }
  Communicator& device() { return *device_; }
  bool p2p_on_device() const { return p2p_on_device_; }

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  int global_rank() const override { return host_->global_rank(); }
  const std::string& name() const override { return host_->name(); }
  const CommLog& log() const override { return *log_; }

  WorkPtr all_reduce_async(Tensor& t, ReduceOp op) override;
  WorkPtr reduce_scatter_async(Tensor& out, const Tensor& in, ReduceOp op) override;
  WorkPtr all_gather_async(Tensor& out, const Tensor& in) override;
  WorkPtr broadcast_async(Tensor& t, int root) override;
  WorkPtr send_async(const Tensor& t, int peer, int tag = 0) override;
  WorkPtr recv_async(Tensor& t, int peer, int tag = 0) override;
  WorkPtr all_to_all_async(Tensor& out, const Tensor& in) override;
  WorkPtr all_to_allv_async(Tensor& out, const std::vector<int64_t>& recv_counts, const Tensor& in,
                            const std::vector<int64_t>& send_counts) override;
  WorkPtr barrier_async() override;
  void flush() override { device_->flush(); }
  // Splits both backends (host first), every rank of this group alike.
  std::unique_ptr<Communicator> split(const std::vector<int>& ranks, const std::string& name) override;

  // The name of a group's device backend: "dp[0,1] (nccl)".
  static std::string device_name(const std::string& group);

 private:
  // Records the op in this group's log and runs `launch` on the backend that `tensors` choose (the host one
  // when `allowed` is false).
  template <typename Launch>
  WorkPtr route(const char* op, std::initializer_list<const Tensor*> tensors, bool reduce, std::string extra,
                Launch&& launch, bool allowed = true);

  std::unique_ptr<Communicator> host_, device_;
  bool p2p_on_device_ = true;
  std::shared_ptr<CommLog> log_;
};

// True when an op over `tensors` goes to the device backend: every tensor is on a GPU and, for a reduction,
// of a type NCCL can reduce (not u16).
bool routes_to_device(std::initializer_list<const Tensor*> tensors, bool reduce);

}  // namespace trident::comm
