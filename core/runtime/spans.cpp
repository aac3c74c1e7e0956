#include "core/runtime/spans.h"

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

struct Open {
  Kind kind;
  Phase phase;
  const char* name;
  double flops, bytes, start_s, child_s;
};
thread_local std::vector<Open> t_stack;  // this thread's open spans, innermost last

void push(Record r) {
  std::lock_guard lock(g_mutex);
  g_records.push_back(std::move(r));
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

std::vector<Record> take() {
  std::lock_guard lock(g_mutex);
  std::vector<Record> out;
  out.swap(g_records);
  return out;
}

Span::Span(Kind kind, Phase phase, double flops, double bytes, const char* name) : on_(enabled()) {
  if (on_) t_stack.push_back({kind, phase, name, flops, bytes, now_s(), 0.0});
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
