#pragma once
// NcclCommunicator: the Communicator over an NCCL communicator, on device memory (the CUDA build only).
//
// Streams and completion: each communicator enqueues its ops, in order, on a stream of its own. Before every
// op that stream waits on an event recorded on the device's compute stream (core/runtime/cuda/stream.h),
// where tensor copies and kernels run, so the op reads what was written before it was called (an explicit
// cross-stream dependency, never an implicit sync). An async op's Work holds a CUDA event recorded after the
// op: test() queries it, and wait() polls it until it completes, blocking the calling thread (not only a
// stream), so after wait() the results are visible to every stream and to the host. While polling, wait() and
// test() ask NCCL for an asynchronous error (ncclCommGetAsyncError), so a failure on another rank surfaces as
// a trident::Error here instead of a hang; a wait that never completes is ended by the watchdog, which names
// the op exactly as it does for MpiCommunicator (every op is recorded in a CommLog).
//
// Types: f32, f64, f16, bf16, i32 and u32 map to NCCL's types; u16 (token ids) has no NCCL type and is
// refused. avg is ncclAvg (floats: pre-multiplied by 1 / size, so it may differ from sum / size in the last
// bit; integers: the sum divided, truncating). send/recv: NCCL matches messages by order per peer and has no
// tags, so `tag` is recorded but not matched, and a recv must be posted with the count its send has (NCCL
// cannot check it). Sends and recvs are held back and posted together as one NCCL group when one of them is
// waited or tested, before the next collective, or on flush(): two ranks that each send before receiving
// (a pipeline's activations one way, gradients the other) would otherwise deadlock, each send queued ahead of
// the recv its peer waits for. Sub-groups come from ncclCommSplit (NCCL 2.18 or newer).
#include <memory>
#include <string>
#include <vector>

#include "core/comm/comm_log.h"
#include "core/comm/communicator.h"
#include "core/comm/watchdog.h"

namespace trident::comm {

struct NcclState;  // the NCCL communicator with its device, stream and events (nccl_communicator.cu)

class NcclCommunicator final : public Communicator {
 public:
  // `global_ranks`: the world rank of each member. `watchdog` may be null.
  NcclCommunicator(std::shared_ptr<NcclState> state, std::string name, std::vector<int> global_ranks,
                   std::shared_ptr<Watchdog> watchdog, bool log_info);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int global_rank() const override { return global_ranks_[rank_]; }
  const std::string& name() const override { return name_; }
  int device() const;  // the CUDA device every tensor passed in must be on
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
  void flush() override;
  std::unique_ptr<Communicator> split(const std::vector<int>& ranks, const std::string& name) override;

 private:
  // Records the op, orders it after the compute stream, runs `post` (the NCCL calls, on state's stream) and
  // returns a Work on an event recorded after them. `keep`: buffers NCCL uses until the op completes.
  template <typename Post>
  WorkPtr launch(bool collective, const char* op, DType dtype, int64_t count, std::string extra,
                 std::vector<std::shared_ptr<Storage>> keep, Post&& post);
  // A send or recv recorded and ordered after the compute stream now, posted at the next flush.
  WorkPtr defer(bool send, const Tensor& t, int peer, int tag);
  // all_to_all(v) as grouped ncclSend/ncclRecv, recorded as `op`.
  WorkPtr exchange(const char* op, Tensor& out, const std::vector<int64_t>& recv_counts, const Tensor& in,
                   const std::vector<int64_t>& send_counts);
  // Throws unless `t` is on this communicator's device.
  void on_device(const char* op, const char* what, const Tensor& t) const;

  std::shared_ptr<NcclState> state_;
  std::string name_;
  std::vector<int> global_ranks_;
  int rank_ = 0, size_ = 1;
  std::shared_ptr<Watchdog> watchdog_;
  bool log_info_ = false;
  std::shared_ptr<CommLog> log_;
};

// The NCCL communicator over every rank of `mpi_world` (an MpiCommunicator under mpirun, or the one-rank
// LocalCommunicator), each rank on its own `device`: rank 0 makes the unique id, mpi_world broadcasts it, and
// every rank joins with ncclCommInitRank. Collective over mpi_world. Two ranks on one GPU are refused by
// name (NCCL needs one GPU per rank). Uses mpi_world's watchdog when it has one.
std::unique_ptr<Communicator> make_nccl_world(Communicator& mpi_world, int device,
                                              const std::string& name = "world");

// This process's GPU: its node-local rank from the launcher (Open MPI, MPICH, Slurm, torchrun-style
// LOCAL_RANK; 0 when none is set) modulo the GPUs it can see. Throws when there is no GPU.
int local_device();

}  // namespace trident::comm
