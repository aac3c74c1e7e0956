#include "train/step_trace.h"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "pipeline/chrome_trace.h"

namespace trident {

namespace {

// Each event travels as one row of numbers: (kind, action kind, micro-batch or first unit, chunk or last
// unit, start us, duration us); kind 0 forward, 1 backward, 2 wait, 3 all_gather, 4 reduce_scatter, 5/6 a
// unit's forward/ backward; -1 marks padding.
constexpr int kRow = 6;
constexpr int kCommTrack = 100;  // comm rows: tid 100 + pipeline rank

}  // namespace

void write_step_trace(ParallelModel& pm, const pp::StepTimes& times, const std::string& out_dir) {
  const zero::DistributedOptimizer& opt = pm.optimizer();
  const bool zero3 = opt.stage() == 3;
  if ((pm.pp().size() == 1 && !zero3) || pm.tp().rank() != 0 || pm.dp().rank() != 0) return;
  const auto code = [](const std::string& c) { return c == "forward" ? 0.0 : c == "backward" ? 1.0 : 2.0; };
  std::vector<double> rows;
  for (size_t i = 0; i < times.events.size(); ++i) {
    const pp::TraceEvent& e = times.events[i];
    const pp::Action& a = times.event_actions[i];
    rows.insert(rows.end(), {code(e.category), static_cast<double>(a.kind), static_cast<double>(a.microbatch),
                             static_cast<double>(a.chunk), e.start_us, e.dur_us});
  }
  for (const zero::CommEvent& e : opt.comm_trace().events()) {
    const double end = e.end_s < 0 ? e.start_s : e.end_s;
    const double kind = e.op == "all_gather" ? 3 : e.op == "reduce_scatter" ? 4 : e.op == "forward" ? 5 : 6;
    rows.insert(rows.end(), {kind, 0, static_cast<double>(e.first_unit), static_cast<double>(e.last_unit),
                             (e.start_s - times.t0_s) * 1e6, (end - e.start_s) * 1e6});
  }
  // Every stage's rows, padded to the longest, to pipeline rank 0.
  Tensor count = Tensor::full({1}, static_cast<double>(rows.size() / kRow), DType::f64);
  if (pm.pp().size() > 1) pm.pp().all_reduce(count, comm::ReduceOp::max);
  const int64_t n = static_cast<int64_t>(count.item(0));
  Tensor mine = Tensor::full({n * kRow}, -1.0, DType::f64);
  for (size_t i = 0; i < rows.size(); ++i) mine.data<double>()[i] = rows[i];
  Tensor all = mine;
  if (pm.pp().size() > 1) {
    all = Tensor::empty({n * kRow * pm.pp().size()}, DType::f64);
    pm.pp().all_gather(all, mine);
  }
  if (pm.pp().rank() != 0) return;
  std::vector<pp::TraceEvent> events;
  std::map<int, std::string> names;
  for (int s = 0; s < pm.pp().size(); ++s) {
    names[s] = fmt::format("pipeline rank {}", s);
    names[kCommTrack + s] = fmt::format("pipeline rank {}: ZeRO communication", s);
    for (int64_t i = 0; i < n; ++i) {
      const double* row = all.data<double>() + (s * n + i) * kRow;
      if (row[0] < 0) continue;
      pp::TraceEvent e;
      e.start_us = row[4];
      e.dur_us = row[5];
      const int first = static_cast<int>(row[2]), last = static_cast<int>(row[3]);
      const std::string units =
          first == last ? fmt::format("unit {}", first) : fmt::format("units {}-{}", first, last);
      if (row[0] >= 5) {  // a unit's compute, nested in its micro-batch's forward or backward
        e.category = row[0] == 5 ? "unit forward" : "unit backward";
        e.name = fmt::format("{} {}", row[0] == 5 ? "F" : "B", units);
        e.tid = s;
      } else if (row[0] >= 3) {
        e.category = row[0] == 3 ? "all_gather" : "reduce_scatter";
        e.name = fmt::format("{} {}", e.category, units);
        e.tid = kCommTrack + s;
      } else {
        e.category = row[0] == 0 ? "forward" : row[0] == 1 ? "backward" : "wait";
        pp::Action a{static_cast<pp::ActionKind>(static_cast<int>(row[1]))};
        a.microbatch = static_cast<int>(row[2]);
        a.chunk = static_cast<int>(row[3]);
        e.name = (row[0] == 2 ? "wait " : "") + pp::action_str(a);
        e.tid = s;
      }
      events.push_back(std::move(e));
    }
  }
  pp::write_chrome_trace(out_dir + (pm.pp().size() > 1 ? "/pipeline_trace.json" : "/step_trace.json"), events,
                         names);
}

}  // namespace trident
