#pragma once
// This build's version, as `trident info` prints it and the ranks compare at start (numerics_fingerprint.h).
namespace trident {

inline constexpr const char* kTridentVersion = "0.1.0";

}  // namespace trident
