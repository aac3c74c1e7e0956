#pragma once
// What every rank sent through each of its parallel groups during a run, gathered to world rank 0: the
// evidence that a parallel layout really ran as one (a group of size > 1 that moved nothing means its ranks
// trained apart). Read from each communicator's CommLog totals; written as one metrics.jsonl record
//   {"comm": {"tp": {"size": 2, "calls": [per world rank], "bytes": [per world rank]}, "pp": ..., "dp": ...}}
// and logged as one line.
#include <string>

#include <nlohmann/json.hpp>

#include "train/parallel_model.h"

namespace trident {

struct CommSummary {
  nlohmann::json record;  // the metrics.jsonl record above (complete on world rank 0 only)
  std::string line;       // "communication: tp 2 ranks, 1.2 MB/rank in 340 ops | ..."
};

// Every rank of `world` calls it together (one all-gather).
CommSummary comm_summary(ParallelModel& model, comm::Communicator& world);

}  // namespace trident
