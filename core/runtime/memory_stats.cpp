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

// Slot 0: the CPU (pinned host memory included); slot 1 + i: cuda:i.
Counter& counter(Device d) {
  static std::array<Counter, 1 + kMaxCudaDevices> counters;
  const int slot = d.is_cpu() ? 0 : 1 + d.index;
  TRIDENT_CHECK(slot >= 0 && slot <= kMaxCudaDevices, "memory accounting for {}: at most {} CUDA devices",
                d.str(), kMaxCudaDevices);
  return counters[slot];
}

}  // namespace

MemoryStats memory_stats(Device device) {
  Counter& c = counter(device);
  return {c.current.load(), c.peak.load()};
}

void reset_peak_memory(Device device) {
  Counter& c = counter(device);
  c.peak.store(c.current.load());
}

void count_alloc(Device device, int64_t bytes) {
  Counter& c = counter(device);
  const int64_t now = c.current.fetch_add(bytes) + bytes;
  int64_t peak = c.peak.load();
  while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
  }
}

void count_free(Device device, int64_t bytes) {
  counter(device).current.fetch_sub(bytes);
}

}  // namespace trident
