#pragma once
// Runs every pipeline rank's action list together on a model clock: proves a schedule deadlock-free, and
// measures its makespan, bubble and activation memory (microbatches in flight).
//
// Model: each rank executes its list in order. forward/backward take their cost; sends are asynchronous and
// instant (they record their issue time); a recv completes at max(now, issue time of its send + p2p) and
// blocks until that send has been issued; reduce_grads and optimizer_step take no time.
#include <string>
#include <vector>

#include "pipeline/schedule.h"

namespace trident::pp {

struct Costs {
  double forward = 1.0, backward = 2.0, p2p = 0.0;  // p2p: latency from send issue to recv availability
};

struct SimResult {
  bool deadlock = false;
  std::string deadlock_cycle;  // "rank 0 waits for recv_grad mb0 c0 from 1; rank 1 waits for ..."
  double makespan = 0;         // time the last rank finishes
  std::vector<double> busy;    // per rank: forward + backward time
  std::vector<int>
      peak_in_flight;  // per rank: max over time of (forwards done - backwards done), (mb, chunk) units
  double bubble = 0;   // 1 - sum(busy) / (pp * makespan)
  struct Event {
    int rank;
    Action action;
    double start, end;
  };
  std::vector<Event> events;  // forward/backward with their times, and recvs that waited; by start time
};

// Validates the lists first (each (microbatch, chunk) forward once and backward once, backward after forward,
// recvs before the compute that uses them, sends after the compute that produced them, sends and recvs
// matched one-to-one) and fails naming the offending action.
SimResult simulate(const std::vector<std::vector<Action>>& per_rank, const Costs& costs);
SimResult simulate(ScheduleKind kind, int pp, int virtual_stages, int microbatches, const Costs& costs);

// One row per rank, one cell per `unit` of time (scaled up to keep rows near 200 characters): "F3" forward
// and "B3" backward of microbatch 3 ("F3c1": on chunk 1 when there are several), '-' continues the block, '.'
// idle.
std::string timeline(const SimResult& result, int pp, double unit = 1.0);

}  // namespace trident::pp
