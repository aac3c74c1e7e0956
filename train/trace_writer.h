#pragma once
// The span trace: every rank's spans (core/runtime/spans.h) of some steps in one Chrome trace-event file
// (Perfetto, chrome://tracing), pid = world rank. On each rank, row 0 holds the compute spans (module kind
// and phase, nested: a projection's tensor-parallel all-reduce inside it) and the time each wait blocked;
// every communication group has a row of its own where each collective runs from launch to completion, so a
// gradient bucket's all-reduce is seen overlapping the backward that goes on meanwhile.
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/runtime/spans.h"
#include "core/tensor/device.h"
#include "pipeline/executor.h"

namespace trident {

// Every rank of `world` calls it with its records; times are written relative to t0_s (each rank's own, taken
// after a common barrier). World rank 0 writes `path`.
void write_span_trace(comm::Communicator& world, const std::vector<spans::Record>& records, double t0_s,
                      const std::string& path);

// The pipeline executor's events of one step (its forwards, backwards and waits per micro-batch: what
// pipeline_trace.json shows) as records on a "pipeline schedule" row, so that one trace holds both.
void add_pipeline_events(std::vector<spans::Record>& records, const pp::StepTimes& times);

// "5,6" or "5-7,9" -> the steps, ascending; a clear error otherwise.
std::vector<int64_t> parse_trace_steps(const std::string& spec);
// The problem with a logging.trace_steps value, for config validation; empty when it is good.
std::string trace_steps_problem(const std::string& spec);

// logging.trace_steps in a training run: the recorder is on during those steps (0-based, as the step loop
// counts), and after the last of them that the run reaches, every rank's spans go to OUT/trace.json. Every
// rank calls begin() before and end() after each step.
class StepTracer {
 public:
  // Steps outside [first_step, last_step) are never run: they are left out. On a GPU `device`, the spans are
  // timed by CUDA events (core/runtime/span_clock.h).
  StepTracer(const std::string& trace_steps, std::string out_dir, comm::Communicator& world,
             int64_t first_step, int64_t last_step, Device device = Device::cpu());
  void begin(int64_t step);
  void end(int64_t step, const pp::StepTimes& times);

 private:
  std::vector<int64_t> steps_;
  std::string out_dir_;
  comm::Communicator& world_;
  Device device_;
  double t0_s_ = -1;
  std::vector<spans::Record> records_;
};

}  // namespace trident
