#include "core/runtime/memory_stats.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "core/runtime/error.h"

namespace trident {

namespace {

constexpr int kMaxCudaDevices = 16;

struct Counter {
  std::atomic<int64_t> current{0};
  std::atomic<int64_t> peak{0};
};

// Per device (slot 0: the CPU, pinned host memory included; slot 1 + i: cuda:i): the total, then each
// category.
using DeviceCounters = std::array<Counter, 1 + kMemoryCategories>;

DeviceCounters& counters(Device d) {
  static std::array<DeviceCounters, 1 + kMaxCudaDevices> all;
  const int slot = d.is_cpu() ? 0 : 1 + d.index;
  TRIDENT_CHECK(slot >= 0 && slot <= kMaxCudaDevices, "memory accounting for {}: at most {} CUDA devices",
                d.str(), kMaxCudaDevices);
  return all[slot];
}

Counter& counter(Device d, MemoryCategory c) {
  return counters(d)[1 + static_cast<int>(c)];
}

void add(Counter& c, int64_t bytes) {
  const int64_t now = c.current.fetch_add(bytes) + bytes;
  int64_t peak = c.peak.load();
  while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
  }
}

thread_local MemoryCategory g_scope = MemoryCategory::other;

}  // namespace

const char* memory_category_name(MemoryCategory c) {
  switch (c) {
    case MemoryCategory::other:
      return "activations and other";
    case MemoryCategory::parameters:
      return "parameters";
    case MemoryCategory::gradients:
      return "gradients";
    case MemoryCategory::optimizer_state:
      return "optimizer state";
    case MemoryCategory::comm_buffers:
      return "communication buffers";
    case MemoryCategory::gathered_units:
      return "gathered units";
  }
  return "?";
}

MemoryStats memory_stats(Device device) {
  Counter& c = counters(device)[0];
  return {c.current.load(), c.peak.load()};
}

MemoryStats memory_stats(Device device, MemoryCategory category) {
  Counter& c = counter(device, category);
  return {c.current.load(), c.peak.load()};
}

void reset_peak_memory(Device device) {
  for (Counter& c : counters(device)) c.peak.store(c.current.load());
}

MemoryScope::MemoryScope(MemoryCategory category) : previous_(g_scope) {
  g_scope = category;
}

MemoryScope::~MemoryScope() {
  g_scope = previous_;
}

MemoryCategory MemoryScope::current() {
  return g_scope;
}

void count_alloc(Device device, MemoryCategory category, int64_t bytes) {
  add(counters(device)[0], bytes);
  add(counter(device, category), bytes);
}

void count_free(Device device, MemoryCategory category, int64_t bytes) {
  counters(device)[0].current.fetch_sub(bytes);
  counter(device, category).current.fetch_sub(bytes);
}

}  // namespace trident
