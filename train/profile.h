#pragma once
// The step profiler behind `trident profile` (DeepSpeed's flops-profiler table, per module kind rather than
// per module): it builds the ParallelModel as training does, runs one warm-up step and then `steps` recorded
// ones with the span recorder on (core/runtime/spans.h), and sums this rank's spans per kind:
//   forward and backward FLOPs (GEMMs 2mnk forward and 4mnk backward, the attention core causal; the
//   memory-bound ops show bytes moved instead), self time (nested spans subtracted, so a tensor-parallel
//   all-reduce inside a projection counts as communication), achieved GFLOP/s or GB/s, and the share of
//   the step. Communication rows show the time the step waited on each group ("exposed") and the time its ops
//   were in flight, which overlaps compute. What no span covers is the idle/wait row, so the shares add to
//   100%.
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/config/trident.pb.h"
#include "core/runtime/spans.h"

namespace trident {

struct ProfileRow {
  std::string name;
  double fwd_flops = 0, bwd_flops = 0;  // per step
  double bytes = 0;                     // per step: a memory-bound op's traffic, a collective's buffers
  double time_s = 0;                    // per step: self time on the step's thread
  double in_flight_s = 0;               // per step, communication: launch to completion
  bool comm = false;
};

struct StepProfile {
  int steps = 0;                       // recorded steps (after the warm-up)
  double step_s = 0;                   // mean wall time of a step
  double tokens = 0;                   // this rank's tokens per step
  std::vector<ProfileRow> rows;        // the kinds seen, in table order, then "idle / wait"
  double model_flops_per_token = 0;    // 6N + 6*L*T*C, N = the GEMMs' weights (for comparison)
  double matmul_weights = 0;           // that N
  bool moe = false;                    // an MoE model: no reference (the experts' FLOPs are not counted)
  bool recompute = false;              // train.recompute full: the blocks' forward runs twice
  std::vector<spans::Record> records;  // every recorded span, for a trace
  double t0_s = 0;                     // the first recorded step's start (all ranks agree within a barrier)
};

// Every rank of `world` calls it; cfg is resolved and validated for world.size() ranks.
StepProfile profile_steps(const config::Config& cfg, comm::Communicator& world, int steps);

// The table, DeepSpeed style, with a header line naming the rank, the layout's per-rank tokens and the
// FLOPs reference.
std::string format_profile(const StepProfile& p, int rank);

}  // namespace trident
