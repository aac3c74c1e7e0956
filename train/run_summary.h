#pragma once
// What a training run reports when it ends, as a table on rank 0: tokens, time, mean tokens/s, MFU, peak
// memory, the final losses. And the memory field of the step log line.
#include <cstdint>
#include <string>

namespace trident {

// One rank's bytes now and at the peak: "12/35 MiB", or "1.23/2.34 GiB" once the peak reaches a GiB.
std::string format_memory(int64_t current, int64_t peak);

struct RunSummary {
  int64_t steps = 0;  // this run's (after a resume, those after the checkpoint)
  double tokens = 0;  // trained by this run
  double time_s = 0;  // wall time of the run's loop, evaluations and checkpoint saves included
  double step_s = 0;  // time in training steps
  double later_tokens = 0, later_s = 0;  // the steps after the first, which pays for warm-up
  double flops_per_token = 0;            // models::ModelSpec::flops_per_token
  int ranks = 1;
  double peak_tflops = 0;                      // one rank's (core/runtime/peak_flops.h); 0: unknown, no MFU
  int64_t peak_memory = 0;                     // rank 0's peak bytes
  int64_t max_peak_memory = 0;                 // the largest peak of any rank
  double final_loss = 0, final_val_loss = -1;  // -1: no evaluation

  void add_step(double step_tokens, double seconds);
  // Over the steps after the first; the first step's own when it is the only one.
  double mean_tokens_per_s() const;
  // Of mean_tokens_per_s, as a fraction; 0 when the peak is unknown.
  double mfu() const;
  std::string table() const;
};

}  // namespace trident
