#pragma once
// Wall-clock seconds on the steady clock, for timing compute, communication and saves.
#include <chrono>

namespace trident {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace trident
