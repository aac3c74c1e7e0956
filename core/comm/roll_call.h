#pragma once
// RollCall: how the watchdog of a rank whose collective timed out learns which members of the group never
// entered it. It asks every other member for the sequence number of the last collective it started on that
// group; their watchdog threads answer (the stuck collective is not involved, and a rank busy or blocked
// outside communication still answers). A rank that says nothing within the grace period is named as not
// answering: its process is stopped, frozen or gone, so nobody can learn where it is.
//
//   [rank 0] collective #5 all_reduce on group 'world' (f32 x 1024, sum) did not complete within 2.0 s;
//   ranks that never entered it: 1, 3. rank 1 (host node-b) did not answer within 2.0 s ...; rank 3 (host
//   node-b) last started #4 on 'world' and is in no communication op now.
//
// The backend (MpiRollCall) is a side channel of its own; tests can stand in for it.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/comm/comm_log.h"

namespace trident::comm {

// What a rank tells about one group when asked.
struct Progress {
  bool knows_group = false;   // false: it has no communicator for the group (not built yet, or freed)
  uint64_t last_started = 0;  // the sequence number of the last collective it started on the group
  bool waiting = false;       // it waits in a communication op (on any group) now
  std::string now;            // "now waits in #7 all_reduce f32 x 8 (sum) on 'tp[2,3]' (for 3.1 s)"
};

// One member's answer, as the asking rank sees it.
struct RollAnswer {
  int global_rank = 0;
  std::string host;
  std::optional<Progress> progress;  // none: no answer within the grace period
};

// Answers a question about a group (by its watchdog key) on the answering rank.
using ProgressOf = std::function<Progress(const std::string& group_key)>;

class RollCall {
 public:
  virtual ~RollCall() = default;

  // How long ask() waits for answers at most.
  virtual double grace_s() const = 0;
  // Answers the questions other ranks have sent so far; never blocks. Called from the watchdog thread only.
  virtual void serve(const ProgressOf& progress_of) = 0;
  // Asks `ranks` (global ranks, this one excluded) about `group_key` and waits until all have answered or
  // grace_s() has passed, answering other ranks' questions meanwhile (they may be asking at the same time).
  // One answer per rank, in the order of `ranks`. Called from the watchdog thread only.
  virtual std::vector<RollAnswer> ask(const std::string& group_key, const std::vector<int>& ranks,
                                      const ProgressOf& progress_of) = 0;
};

// The ranks among `answers` that never entered collective `seq`: no answer, no such group, or a last started
// collective before `seq`. Ascending.
std::vector<int> never_entered(uint64_t seq, const std::vector<RollAnswer>& answers);

// True when ranks never entered collective `seq` and every one of them answered that it waits in another
// communication op: they are held up themselves, so a rank that waits on the cause (a silent rank, or one
// that waits in no op) has the more useful report.
bool only_held_up_ranks_missing(uint64_t seq, const std::vector<RollAnswer>& answers);

// "ranks that never entered it: 1, 3. rank 1 (host b) did not answer ...; rank 3 (host b) last started #4 on
// 'world' and ...", or, when every member entered it, "ranks that never entered it: none ...".
std::string roll_call_report(const std::string& group, const std::vector<int>& group_ranks, uint64_t seq,
                             const std::vector<RollAnswer>& answers, double grace_s);

}  // namespace trident::comm
