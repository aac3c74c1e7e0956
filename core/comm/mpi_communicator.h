#pragma once
// MpiCommunicator: the Communicator over an MPI communicator, on host memory. Every op is posted with a
// non-blocking MPI call (MPI_Iallreduce, MPI_Ireduce_scatter_block, ...) and its Work waits on the requests.
// Reductions: f32, f64, i32, u16, u32 natively; bf16 (which MPI lacks) through user-defined ops on 2-byte
// elements that add or compare in float and round back. avg = sum, then divide by size on completion (integer
// tensors: integer division, truncating). Device tensors (CUDA build) are staged through pinned host memory,
// synchronously: copied to the host before the op, copied back when its Work completes (mpi_staging.h).
//
// Verify mode (TRIDENT_COMM_VERIFY=1): every collective is preceded by a tiny MPI_Allreduce of a fingerprint
// of (seq, op, dtype, count, reduce op/root), so ranks whose collective sequences diverge get a
// trident::Error naming what each runs, instead of a hang or silently mixed data.
#include <memory>
#include <string>
#include <vector>

#include "core/comm/comm_log.h"
#include "core/comm/communicator.h"
#include "core/comm/mpi_check.h"
#include "core/comm/watchdog.h"

namespace trident::comm {

struct MpiCommOptions {
  bool verify_sequence = false;
  bool log_info = false;  // log every op at info level, not debug
};

class MpiCommunicator final : public Communicator {
 public:
  // Takes ownership of `comm` (freed on destruction) and sets MPI_ERRORS_RETURN on it. `global_ranks`: the
  // world rank of each member. `watchdog` may be null.
  MpiCommunicator(MPI_Comm comm, std::string name, std::vector<int> global_ranks,
                  std::shared_ptr<Watchdog> watchdog, MpiCommOptions options);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int global_rank() const override { return global_ranks_[rank_]; }
  const std::string& name() const override { return name_; }
  MPI_Comm handle() const { return comm_; }
  const CommLog& log() const override { return *log_; }
  const std::shared_ptr<Watchdog>& watchdog() const { return watchdog_; }

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
  // Records a collective and, in verify mode, checks that every rank runs the same one. `agree`: what every
  // rank must have in common (all_to_allv counts differ between ranks, so they are left out of it).
  uint64_t begin_collective(const char* op, DType dtype, int64_t count, std::string extra,
                            const std::string& agree);
  void verify(uint64_t ticket, const std::string& agree);

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::string name_;
  std::vector<int> global_ranks_;
  int rank_ = 0, size_ = 1;
  std::shared_ptr<Watchdog> watchdog_;
  MpiCommOptions options_;
  std::shared_ptr<CommLog> log_;
};

}  // namespace trident::comm
