#pragma once
// A communicator for unit tests that forwards every op to a one-rank LocalCommunicator; a fake overrides only
// what it changes (its size, a counter, a refusal).
#include <memory>
#include <string>
#include <vector>

#include "core/comm/local_communicator.h"

namespace trident::test {

class ForwardingComm : public comm::Communicator {
 public:
  explicit ForwardingComm(const std::string& name = "world") : local_(name) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int global_rank() const override { return 0; }
  const std::string& name() const override { return local_.name(); }
  const comm::CommLog& log() const override { return local_.log(); }
  comm::WorkPtr all_reduce_async(Tensor& t, comm::ReduceOp op) override {
    return local_.all_reduce_async(t, op);
  }
  comm::WorkPtr reduce_scatter_async(Tensor& out, const Tensor& in, comm::ReduceOp op) override {
    return local_.reduce_scatter_async(out, in, op);
  }
  comm::WorkPtr all_gather_async(Tensor& out, const Tensor& in) override {
    return local_.all_gather_async(out, in);
  }
  comm::WorkPtr broadcast_async(Tensor& t, int root) override { return local_.broadcast_async(t, root); }
  comm::WorkPtr send_async(const Tensor& t, int peer, int tag) override {
    return local_.send_async(t, peer, tag);
  }
  comm::WorkPtr recv_async(Tensor& t, int peer, int tag) override { return local_.recv_async(t, peer, tag); }
  comm::WorkPtr all_to_all_async(Tensor& out, const Tensor& in) override {
    return local_.all_to_all_async(out, in);
  }
  comm::WorkPtr all_to_allv_async(Tensor& out, const std::vector<int64_t>& recv_counts, const Tensor& in,
                                  const std::vector<int64_t>& send_counts) override {
    return local_.all_to_allv_async(out, recv_counts, in, send_counts);
  }
  comm::WorkPtr barrier_async() override { return local_.barrier_async(); }
  std::unique_ptr<comm::Communicator> split(const std::vector<int>&, const std::string& name) override {
    return std::make_unique<ForwardingComm>(name);
  }

 protected:
  comm::LocalCommunicator local_;
};

}  // namespace trident::test
