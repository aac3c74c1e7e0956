#pragma once
// Communicator: the collectives every parallel dimension uses, over one group of ranks. Backends:
// MpiCommunicator (host memory; device buffers staged through pinned host memory) and NcclCommunicator
// (device memory). Every call has an async form returning a Work handle; the plain form waits on it.
// Every collective is recorded in the CommLog (sequence number, op, group, dtype, count), so a hang or a
// mismatch between ranks can be reported by name (see watchdog.h).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/comm/comm_log.h"
#include "core/tensor/tensor.h"

namespace trident::comm {

enum class ReduceOp : uint8_t { sum, avg, max };
const char* reduce_op_name(ReduceOp op);

// A pending operation. wait() blocks until it completes (or the watchdog ends the process); test() polls.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool test() = 0;
};
using WorkPtr = std::unique_ptr<Work>;

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;  // rank within this group
  virtual int size() const = 0;
  virtual int global_rank() const = 0;  // rank in the world, for messages
  // The group's name for logs and errors, e.g. "world" or "dp[0,2,4,6]".
  virtual const std::string& name() const = 0;
  // Every op this communicator has run: pending ops for the watchdog, per-op totals for volume checks.
  virtual const CommLog& log() const = 0;

  // In place over t (sum, avg = sum / size, or max).
  virtual WorkPtr all_reduce_async(Tensor& t, ReduceOp op) = 0;
  // in (size * n) -> out (n): rank r receives the reduction of block r.
  virtual WorkPtr reduce_scatter_async(Tensor& out, const Tensor& in, ReduceOp op) = 0;
  // in (n) -> out (size * n), block r from rank r.
  virtual WorkPtr all_gather_async(Tensor& out, const Tensor& in) = 0;
  virtual WorkPtr broadcast_async(Tensor& t, int root) = 0;
  virtual WorkPtr send_async(const Tensor& t, int peer, int tag = 0) = 0;
  virtual WorkPtr recv_async(Tensor& t, int peer, int tag = 0) = 0;
  // in (size * n) -> out (size * n): block j of `in` goes to rank j, block i of `out` comes from rank i.
  virtual WorkPtr all_to_all_async(Tensor& out, const Tensor& in) = 0;
  // Uneven form: send_counts[j] elements to rank j (consecutive in `in`), recv_counts[i] from rank i.
  virtual WorkPtr all_to_allv_async(Tensor& out, const std::vector<int64_t>& recv_counts, const Tensor& in,
                                    const std::vector<int64_t>& send_counts) = 0;
  virtual WorkPtr barrier_async() = 0;
  // Posts whatever this backend holds back (NcclCommunicator groups point-to-point ops, posting them when one
  // is waited or tested, or before the next collective). Call it before blocking on another communicator
  // whose peers may need those messages first. A no-op for backends that post every op at once.
  virtual void flush() {}

  // A sub-communicator over `ranks` (ranks of THIS group, ascending, containing this rank). Every rank of
  // this group must call split() with the partition it belongs to, in the same order, as with MPI_Comm_split.
  virtual std::unique_ptr<Communicator> split(const std::vector<int>& ranks, const std::string& name) = 0;

  // Blocking forms.
  void all_reduce(Tensor& t, ReduceOp op) { all_reduce_async(t, op)->wait(); }
  void reduce_scatter(Tensor& out, const Tensor& in, ReduceOp op) {
    reduce_scatter_async(out, in, op)->wait();
  }
  void all_gather(Tensor& out, const Tensor& in) { all_gather_async(out, in)->wait(); }
  void broadcast(Tensor& t, int root) { broadcast_async(t, root)->wait(); }
  void send(const Tensor& t, int peer, int tag = 0) { send_async(t, peer, tag)->wait(); }
  void recv(Tensor& t, int peer, int tag = 0) { recv_async(t, peer, tag)->wait(); }
  void all_to_all(Tensor& out, const Tensor& in) { all_to_all_async(out, in)->wait(); }
  void barrier() { barrier_async()->wait(); }
};

}  // namespace trident::comm
