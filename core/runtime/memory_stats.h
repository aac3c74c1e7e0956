#pragma once
// Memory accounting: the bytes of tensor storage alive on each device now, and the most alive at once since
// the last reset_peak() (what `bench` reports as peak memory, and what a caching allocator will add its
// cached bytes to). Every Storage counts itself on creation and destruction; thread-safe (atomics).
#include <cstdint>

#include "core/tensor/device.h"

namespace trident {

struct MemoryStats {
  int64_t current = 0;  // bytes of live storage
  int64_t peak = 0;     // the most live at once since the last reset
};

MemoryStats memory_stats(Device device);
// Starts a new peak from the current bytes (e.g. before the measured steps of a benchmark).
void reset_peak_memory(Device device);

// Called by Storage.
void count_alloc(Device device, int64_t bytes);
void count_free(Device device, int64_t bytes);

}  // namespace trident
