#pragma once
// LocalCommunicator: the group of one rank, for a run without mpirun. Collectives are copies or no-ops with
// the same argument checks as MpiCommunicator, so single-process training exercises the same call sites.
#include <memory>
#include <string>

#include "core/comm/comm_log.h"
#include "core/comm/communicator.h"

namespace trident::comm {

class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(std::string name = "world", bool log_info = false);

  int rank() const override { return 0; }
  int size() const override { return 1; }
  int global_rank() const override { return 0; }
  const std::string& name() const override { return name_; }
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
  std::unique_ptr<Communicator> split(const std::vector<int>& ranks, const std::string& name) override;

 private:
  WorkPtr copy(const char* op, Tensor& out, const Tensor& in, std::string extra = {});
  WorkPtr noop(const char* op, DType dtype, int64_t count, std::string extra = {});

  std::string name_;
  bool log_info_;
  std::shared_ptr<CommLog> log_;
};

}  // namespace trident::comm
