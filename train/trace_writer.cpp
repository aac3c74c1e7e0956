#include "train/trace_writer.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "core/runtime/clock.h"
#include "core/runtime/error.h"
#include "core/runtime/span_clock.h"

namespace trident {

namespace {

nlohmann::json metadata(const char* what, int pid, int tid, nlohmann::json args) {
  return {{"name", what}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", std::move(args)}};
}

// This rank's events: row 0 the step's thread, then one row per communication group, in order of first use.
nlohmann::json rank_events(const std::vector<spans::Record>& records, double t0_s, int rank) {
  nlohmann::json events = nlohmann::json::array();
  std::map<std::string, int> tracks;
  events.push_back(metadata("process_name", rank, 0, {{"name", fmt::format("rank {}", rank)}}));
  events.push_back(metadata("process_sort_index", rank, 0, {{"sort_index", rank}}));
  events.push_back(metadata("thread_name", rank, 0, {{"name", "compute"}}));
  for (const spans::Record& r : records) {
    int tid = 0;
    if (!r.track.empty()) {
      auto [it, added] = tracks.emplace(r.track, static_cast<int>(tracks.size()) + 1);
      tid = it->second;
      if (added) {
        const bool comm = spans::is_comm(r.kind);
        events.push_back(metadata("thread_name", rank, tid, {{"name", (comm ? "comm " : "") + r.track}}));
        events.push_back(metadata("thread_sort_index", rank, tid, {{"sort_index", tid}}));
      }
    }
    const char* phase = spans::phase_name(r.phase);
    nlohmann::json e = {{"name", *phase ? fmt::format("{} {}", r.name, phase) : r.name},
                        {"cat", spans::kind_name(r.kind)},
                        {"ph", "X"},
                        {"pid", rank},
                        {"tid", tid},
                        {"ts", (r.start_s - t0_s) * 1e6},
                        {"dur", (r.end_s - r.start_s) * 1e6}};
    nlohmann::json args = nlohmann::json::object();
    if (*phase) args["phase"] = phase;
    if (r.flops > 0) args["flops"] = r.flops;
    if (r.bytes > 0) args["bytes"] = r.bytes;
    if (!args.empty()) e["args"] = std::move(args);
    events.push_back(std::move(e));
  }
  return events;
}

// Every rank's text on world rank 0 (elsewhere empty): lengths agreed with a max, then one all-gather of
// the texts padded to it, four bytes to an i32.
std::vector<std::string> gather_text(comm::Communicator& world, const std::string& mine) {
  Tensor len = Tensor::full({1}, static_cast<double>((mine.size() + 3) / 4), DType::f64);
  world.all_reduce(len, comm::ReduceOp::max);
  const auto words = static_cast<int64_t>(len.item(0));
  Tensor packed = Tensor::zeros({words + 1}, DType::i32);  // word 0: the length in bytes
  packed.data<int32_t>()[0] = static_cast<int32_t>(mine.size());
  std::memcpy(packed.data<int32_t>() + 1, mine.data(), mine.size());
  Tensor all = Tensor::empty({(words + 1) * world.size()}, DType::i32);
  world.all_gather(all, packed);
  std::vector<std::string> out;
  if (world.rank() != 0) return out;
  for (int r = 0; r < world.size(); ++r) {
    const int32_t* p = all.data<int32_t>() + r * (words + 1);
    out.emplace_back(reinterpret_cast<const char*>(p + 1), static_cast<size_t>(p[0]));
  }
  return out;
}

// The ranks' time origin. Ranks on one host read one steady clock, so rank 0's origin puts them all on it
// exactly; across hosts the clocks (time since each one's boot) differ by far more than a second, and each
// rank keeps its own origin, taken after a common barrier.
double common_origin(comm::Communicator& world, double t0_s) {
  if (world.size() == 1) return t0_s;
  Tensor all = Tensor::zeros({world.size()}, DType::f64);
  all.data<double>()[world.rank()] = t0_s;
  world.all_reduce(all, comm::ReduceOp::sum);
  const double* t = all.data<double>();
  for (int r = 0; r < world.size(); ++r)
    if (std::abs(t[r] - t[0]) > 1.0) return t0_s;
  return t[0];
}

}  // namespace

void write_span_trace(comm::Communicator& world, const std::vector<spans::Record>& records, double t0_s,
                      const std::string& path) {
  t0_s = common_origin(world, t0_s);
  const std::string mine = rank_events(records, t0_s, world.rank()).dump();
  const std::vector<std::string> texts =
      world.size() > 1 ? gather_text(world, mine) : std::vector<std::string>{mine};
  if (world.rank() != 0) return;
  nlohmann::json events = nlohmann::json::array();
  for (const std::string& t : texts)
    for (auto& e : nlohmann::json::parse(t)) events.push_back(std::move(e));
  const nlohmann::json doc = {{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}};
  std::ofstream out(path, std::ios::trunc);
  if (!out) fail("cannot write the trace '{}': {}", path, std::strerror(errno));
  out << doc.dump() << "\n";
  out.close();
  if (!out) fail("cannot write the trace '{}': {}", path, std::strerror(errno));
}

void add_pipeline_events(std::vector<spans::Record>& records, const pp::StepTimes& times) {
  for (const pp::TraceEvent& e : times.events) {
    spans::Record r;
    r.kind = spans::Kind::pipeline;
    r.name = e.name;
    r.track = "pipeline schedule";
    r.start_s = times.t0_s + e.start_us * 1e-6;
    r.end_s = r.start_s + e.dur_us * 1e-6;
    r.self_s = r.end_s - r.start_s;
    records.push_back(std::move(r));
  }
}

std::string trace_steps_problem(const std::string& spec) {
  try {
    parse_trace_steps(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

std::vector<int64_t> parse_trace_steps(const std::string& spec) {
  std::vector<int64_t> steps;
  std::stringstream in(spec);
  std::string part;
  while (std::getline(in, part, ',')) {
    int64_t a = -1, b = -1;
    char dash = 0, extra = 0;
    const int n = std::sscanf(part.c_str(), " %ld %c %ld %c", &a, &dash, &b, &extra);
    if (n == 1 && a >= 0) {
      steps.push_back(a);
    } else if (n == 3 && dash == '-' && a >= 0 && b >= a) {
      for (int64_t s = a; s <= b; ++s) steps.push_back(s);
    } else {
      fail("logging.trace_steps '{}': '{}' is not a step or a range a-b (e.g. \"5,6\" or \"5-7\")", spec,
           part);
    }
  }
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

StepTracer::StepTracer(const std::string& trace_steps, std::string out_dir, comm::Communicator& world,
                       int64_t first_step, int64_t last_step, Device device)
    : out_dir_(std::move(out_dir)), world_(world), device_(device) {
  if (trace_steps.empty() || out_dir_.empty()) return;
  for (int64_t s : parse_trace_steps(trace_steps))
    if (s >= first_step && s < last_step) steps_.push_back(s);
}

void StepTracer::begin(int64_t step) {
  if (!std::binary_search(steps_.begin(), steps_.end(), step)) return;
  world_.barrier();  // a common start, so that the ranks' clocks line up in the trace
  if (t0_s_ < 0) t0_s_ = now_s();
  spans::take();
  spans::set_clock(span_clock_for(device_));
  spans::enable(true);
}

void StepTracer::end(int64_t step, const pp::StepTimes& times) {
  if (!std::binary_search(steps_.begin(), steps_.end(), step)) return;
  spans::enable(false);
  for (spans::Record& r : spans::take()) records_.push_back(std::move(r));
  spans::set_clock(nullptr);
  add_pipeline_events(records_, times);
  if (step != steps_.back()) return;
  write_span_trace(world_, records_, t0_s_, out_dir_ + "/trace.json");
  records_.clear();
}

}  // namespace trident
