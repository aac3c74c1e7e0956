#pragma once
// Counter-based RNG (Philox-4x32-10, Salmon et al. 2011): a random value is a pure function of
// (key, counter), so a parameter element's initial value depends only on (seed, name, global index) and
// a data sample only on (seed, step, index), whatever the parallel layout.
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

namespace trident {

inline uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * ctr[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * ctr[2];
    ctr = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<uint32_t>(p0)};
    key[0] += kW0;
    key[1] += kW1;
  }
  return ctr;
}

// A stream keyed by (seed, stream id); element i is independent of every other element.
class CounterRng {
 public:
  CounterRng(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}
  CounterRng(uint64_t seed, std::string_view name) : CounterRng(seed, fnv1a64(name)) {}

  std::array<uint32_t, 4> block(uint64_t i) const {
    return philox4x32({static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32),
                       static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32)},
                      {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)});
  }
  uint64_t u64(uint64_t i) const {
    auto b = block(i);
    return (static_cast<uint64_t>(b[0]) << 32) | b[1];
  }
  // Uniform in (0, 1).
  double uniform(uint64_t i) const { return (static_cast<double>(u64(i) >> 11) + 0.5) * 0x1.0p-53; }
  // Standard normal by Box-Muller on the block's two 64-bit halves.
  double normal(uint64_t i) const {
    auto b = block(i);
    const double u1 = ((static_cast<double>((static_cast<uint64_t>(b[0]) << 21) ^ b[1]) + 0.5) * 0x1.0p-53);
    const double u2 = ((static_cast<double>((static_cast<uint64_t>(b[2]) << 21) ^ b[3]) + 0.5) * 0x1.0p-53);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t seed_, stream_;
};

}  // namespace trident
