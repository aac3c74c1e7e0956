#pragma once
// CommLog: what one communicator has run. Every collective gets a sequence number (per communicator, from 1;
// point-to-point ops count separately, since ranks post different ones) and a record that stays pending until
// its Work completes. The watchdog reads the oldest pending record of every log to name a hang.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"

namespace trident::comm {

using Clock = std::chrono::steady_clock;

struct OpRecord {
  uint64_t seq = 0;
  bool collective = true;  // false: send/recv
  std::string op;          // "all_reduce"
  DType dtype = DType::f32;
  int64_t count = 0;  // elements this rank passes in (-1: none, e.g. barrier)
  std::string extra;  // "sum", "root 0", "to rank 3"
  Clock::time_point start;
  bool done = false;

  std::string label() const;  // "#17" or "p2p #3"
  std::string what() const;   // "all_reduce f32 x 4096 (sum)"
};

// What one kind of op has moved through a communicator, summed over its calls: for tests and benchmarks that
// measure communication volume. `elements` counts what this rank passed in (reduce_scatter: the whole size *
// n input; all_gather: its n-element block); ops without a buffer (barrier, split) add calls only.
struct OpTotals {
  int64_t calls = 0;
  int64_t elements = 0;
  int64_t bytes = 0;
};

class CommLog {
 public:
  // `global_ranks`: the world ranks of the group's members, for messages.
  CommLog(std::string group, int global_rank, std::vector<int> global_ranks, bool log_info = false);

  // Records the start of an op; returns a ticket for end(). Logs "[rank 3] dp[1,3] #17 all_reduce f32 x 4096"
  // at debug level (info with TRIDENT_COMM_LOG=1).
  uint64_t begin(bool collective, std::string op, DType dtype, int64_t count, std::string extra = {});
  void end(uint64_t ticket);
  const OpRecord& record(uint64_t ticket) const;  // a pending record (valid until end)

  std::optional<OpRecord> oldest_pending() const;
  std::optional<OpRecord> last_completed() const;  // the latest-started collective that completed
  uint64_t collectives() const;                    // collectives begun so far

  // Per-op totals since construction or the last reset_totals(), keyed by op name: "all_reduce", "send", ...
  std::map<std::string, OpTotals> totals() const;
  // const so that a test can reset through Communicator::log(), which is const: the totals are bookkeeping
  // for observers, like the mutex, not state the communicator depends on.
  void reset_totals() const;

  const std::string& group() const { return group_; }
  int global_rank() const { return global_rank_; }
  const std::vector<int>& global_ranks() const { return global_ranks_; }

 private:
  std::string group_;
  int global_rank_;
  std::vector<int> global_ranks_;
  bool log_info_;
  mutable std::mutex mu_;
  uint64_t next_ticket_ = 1, next_seq_ = 1, next_p2p_seq_ = 1;
  std::map<uint64_t, OpRecord> pending_;  // by ticket, so oldest first
  std::optional<OpRecord> last_completed_;
  mutable std::map<std::string, OpTotals> totals_;
};

// "0,2,4,6" (or "0..7" for a contiguous run).
std::string ranks_str(const std::vector<int>& ranks);

}  // namespace trident::comm
