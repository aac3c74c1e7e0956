#pragma once
// Memory accounting: the bytes of tensor storage alive on each device now, and the most alive at once since
// the last reset_peak() (what `bench` reports as peak memory, and what a caching allocator will add its
// cached bytes to), in total and by category. Every Storage counts itself on creation and destruction, under
// the category of the innermost MemoryScope alive on its thread when it was made (activations and everything
// else: MemoryCategory::other). Thread-safe (atomics).
#include <cstdint>

#include "core/tensor/device.h"

namespace trident {

struct MemoryStats {
  int64_t current = 0;  // bytes of live storage
  int64_t peak = 0;     // the most live at once since the last reset
};

// What ZeRO's memory accounting tells apart (zero/memory_report.h).
enum class MemoryCategory : uint8_t {
  other,            // activations, temporaries
  parameters,       // the model's parameters as it computes with them (or their shard)
  gradients,        // gradients: the model's flat buffer, fp32 shards and accumulators
  optimizer_state,  // fp32 master weights and AdamW's moments
  comm_buffers,     // staging for reductions and gathers
  gathered_units,   // ZeRO-3: parameters of units gathered for a forward or backward
};
inline constexpr int kMemoryCategories = 6;
const char* memory_category_name(MemoryCategory c);

MemoryStats memory_stats(Device device);
MemoryStats memory_stats(Device device, MemoryCategory category);
// Starts a new peak from the current bytes (e.g. before the measured steps of a benchmark), for the total and
// every category.
void reset_peak_memory(Device device);

// Storage made while it lives is counted under `category` (scopes nest; the innermost wins).
class MemoryScope {
 public:
  explicit MemoryScope(MemoryCategory category);
  ~MemoryScope();
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;
  static MemoryCategory current();

 private:
  MemoryCategory previous_;
};

// Called by Storage.
void count_alloc(Device device, MemoryCategory category, int64_t bytes);
void count_free(Device device, MemoryCategory category, int64_t bytes);

}  // namespace trident
