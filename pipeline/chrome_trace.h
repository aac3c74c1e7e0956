#pragma once
// Chrome trace-event JSON ("traceEvents": "X" complete events plus "M" thread names), viewable in Perfetto
// (ui.perfetto.dev) or chrome://tracing. Used by `trident pp-sim` and by the pipeline executor, which records
// each rank's compute and wait times.
#include <map>
#include <string>
#include <vector>

namespace trident::pp {

struct TraceEvent {
  std::string name;
  std::string category;
  int pid = 0;
  int tid = 0;
  double start_us = 0, dur_us = 0;
};

// thread_names: tid -> row name (e.g. "rank 3"), applied in every pid that has events on that tid.
// Fails with the path and the reason when the file cannot be written.
void write_chrome_trace(const std::string& path, const std::vector<TraceEvent>& events,
                        const std::map<int, std::string>& thread_names = {});

}  // namespace trident::pp
