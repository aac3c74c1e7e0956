#include "core/runtime/spans.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "core/runtime/clock.h"

namespace trident::spans {

namespace {

std::atomic<bool> g_on{false};
std::mutex g_mutex;
std::vector<Record> g_records;       // closed spans
std::map<uint64_t, Record> g_async;  // collectives in flight
uint64_t g_next_async = 1;
std::shared_ptr<Clock> g_clock;  // set while spans are off; read by the thread that opens spans

struct Open {
  Kind kind;
  Phase phase;
  const char* name;
  double flops, bytes, start_s, child_s;
  uint64_t start_mark;
};
thread_local std::vector<Open> t_stack;  // this thread's open spans, innermost last

void push(Record r) {
  std::lock_guard lock(g_mutex);
  g_records.push_back(std::move(r));
}

// Device-clock spans: their times from the marks, then each one's self time from the nesting of the times
// (sorted by start, a span contains the ones that start after it and end before it ends).
void resolve_marks(std::vector<Record>& records, Clock& clock) {
  std::vector<size_t> marked;
  for (size_t i = 0; i < records.size(); ++i) {
    Record& r = records[i];
    if (r.start_mark == 0) continue;
    r.start_s = clock.seconds(r.start_mark);
    r.end_s = std::max(r.start_s, clock.seconds(r.end_mark));
    r.start_mark = r.end_mark = 0;
    marked.push_back(i);
  }
  std::stable_sort(marked.begin(), marked.end(), [&](size_t a, size_t b) {
    const Record &x = records[a], &y = records[b];
    return x.start_s != y.start_s ? x.start_s < y.start_s : x.end_s > y.end_s;
  });
  std::vector<double> child_s(records.size(), 0.0);
  std::vector<size_t> open;  // the chain of spans containing the current one, innermost last
  for (size_t i : marked) {
    while (!open.empty() && records[open.back()].end_s < records[i].end_s) open.pop_back();
    if (!open.empty()) child_s[open.back()] += records[i].end_s - records[i].start_s;
    open.push_back(i);
  }
  for (size_t i : marked) records[i].self_s = records[i].end_s - records[i].start_s - child_s[i];
  clock.reset();
}

}  // namespace

const char* kind_name(Kind k) {
  static const char* names[] = {
      "embedding", "qkv",     "attention core", "attention proj", "MLP up/gate",      "MLP down",
      "MoE layer", "norms",   "residual adds",  "head + loss",    "optimizer",        "comm dp",
      "comm zero", "comm tp", "comm pp",        "comm ep",        "pipeline schedule"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(Kind::count));
  return names[static_cast<int>(k)];
}

bool is_comm(Kind k) {
  return k >= Kind::comm_dp && k <= Kind::comm_ep;
}

const char* phase_name(Phase p) {
  return p == Phase::forward ? "forward" : p == Phase::backward ? "backward" : "";
}

void enable(bool on) {
  g_on.store(on, std::memory_order_relaxed);
}
bool enabled() {
  return g_on.load(std::memory_order_relaxed);
}

void set_clock(std::shared_ptr<Clock> clock) {
  std::lock_guard lock(g_mutex);
  g_clock = std::move(clock);
}

std::vector<Record> take() {
  std::lock_guard lock(g_mutex);
  std::vector<Record> out;
  out.swap(g_records);
  if (g_clock) resolve_marks(out, *g_clock);
  return out;
}

Span::Span(Kind kind, Phase phase, double flops, double bytes, const char* name) : on_(enabled()) {
  if (on_) t_stack.push_back({kind, phase, name, flops, bytes, now_s(), 0.0, g_clock ? g_clock->mark() : 0});
}

Span::~Span() {
  if (!on_ || t_stack.empty()) return;
  const Open o = t_stack.back();
  t_stack.pop_back();
  Record r;
  r.kind = o.kind;
  r.phase = o.phase;
  r.name = o.name ? o.name : kind_name(o.kind);
  r.start_s = o.start_s;
  r.end_s = now_s();
  const double dur = r.end_s - r.start_s;
  r.self_s = dur - o.child_s;
  r.flops = o.flops;
  r.bytes = o.bytes;
  if (o.start_mark != 0 && g_clock) {
    r.start_mark = o.start_mark;
    r.end_mark = g_clock->mark();
  }
  if (!t_stack.empty()) t_stack.back().child_s += dur;
  push(std::move(r));
}

uint64_t begin_async(Kind kind, std::string track, std::string name, double bytes) {
  if (!enabled()) return 0;
  Record r;
  r.kind = kind;
  r.name = std::move(name);
  r.track = std::move(track);
  r.bytes = bytes;
  r.start_s = now_s();
  std::lock_guard lock(g_mutex);
  g_async.emplace(g_next_async, std::move(r));
  return g_next_async++;
}

void end_async(uint64_t id) {
  if (id == 0) return;
  const double t = now_s();
  std::lock_guard lock(g_mutex);
  auto it = g_async.find(id);
  if (it == g_async.end()) return;
  Record r = std::move(it->second);
  g_async.erase(it);
  r.end_s = t;
  r.self_s = t - r.start_s;
  g_records.push_back(std::move(r));
}

}  // namespace trident::spans
