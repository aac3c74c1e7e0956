#pragma once
// The clock the profiler's spans read on a device (core/runtime/spans.h): none on a CPU (the steady clock is
// the truth there), CUDA timing events on the device's compute stream on a GPU.
#include <memory>

#include "core/runtime/spans.h"
#include "core/tensor/device.h"

namespace trident {

// Null for a CPU device (and on a CPU-only build).
std::shared_ptr<spans::Clock> span_clock_for(Device device);

// Installs span_clock_for(device) for a scope (profiled steps, traced steps) and removes it after.
class ScopedSpanClock {
 public:
  explicit ScopedSpanClock(Device device) { spans::set_clock(span_clock_for(device)); }
  ~ScopedSpanClock() { spans::set_clock(nullptr); }
  ScopedSpanClock(const ScopedSpanClock&) = delete;
  ScopedSpanClock& operator=(const ScopedSpanClock&) = delete;
};

}  // namespace trident
