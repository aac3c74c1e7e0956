// Chrome trace-event JSON writer.
#include "pipeline/chrome_trace.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/runtime/error.h"

namespace trident::pp {
namespace {

nlohmann::json metadata(const char* name, int pid, int tid, nlohmann::json args) {
  return {{"name", name}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

}  // namespace

void write_chrome_trace(const std::string& path, const std::vector<TraceEvent>& events,
                        const std::map<int, std::string>& thread_names) {
  nlohmann::json trace = nlohmann::json::array();
  std::set<std::pair<int, int>> threads;  // (pid, tid) that have events
  for (const TraceEvent& e : events) {
    if (!(e.dur_us >= 0))
      fail("trace event '{}' on pid {} tid {} has negative duration {}", e.name, e.pid, e.tid, e.dur_us);
    threads.insert({e.pid, e.tid});
  }
  for (const auto& [tid, name] : thread_names) {
    bool named = false;
    for (const auto& [pid, t] : threads) {
      if (t != tid) continue;
      trace.push_back(metadata("thread_name", pid, tid, {{"name", name}}));
      trace.push_back(metadata("thread_sort_index", pid, tid, {{"sort_index", tid}}));
      named = true;
    }
    if (!named) trace.push_back(metadata("thread_name", 0, tid, {{"name", name}}));
  }
  for (const TraceEvent& e : events) {
    trace.push_back({{"name", e.name},
                     {"cat", e.category},
                     {"ph", "X"},
                     {"pid", e.pid},
                     {"tid", e.tid},
                     {"ts", e.start_us},
                     {"dur", e.dur_us}});
  }
  const nlohmann::json doc = {{"traceEvents", std::move(trace)}, {"displayTimeUnit", "ms"}};

  std::ofstream out(path, std::ios::trunc);
  if (!out) fail("cannot write Chrome trace '{}': {}", path, std::strerror(errno));
  out << doc.dump() << "\n";
  out.close();
  if (!out) fail("cannot write Chrome trace '{}': {}", path, std::strerror(errno));
}

}  // namespace trident::pp
