#pragma once
// The settings that change a rank's arithmetic without changing its config: the Trident build, the BLAS
// library and the kernels it picked for this CPU (OpenBLAS chooses them per CPU at load time, and
// OPENBLAS_CORETYPE overrides the choice), the CPU's vector extensions, and on CPU the thread count (OpenBLAS
// splits some reductions, dot products and matrix-vector products, across its threads). Ranks that differ in
// any of them compute slightly different sums, so replicas that should stay bit-identical drift apart
// (4e-3 in 18 steps across two nodes with different OPENBLAS_CORETYPE). The ranks compare them at start.
#include <string>
#include <vector>

#include "core/mesh/node_map.h"

namespace trident {

struct NumericsSetting {
  std::string name, value;
};

// This rank's settings. threads: its CPU thread count, listed when cpu_compute (a GPU rank's sums do not
// depend on it).
std::vector<NumericsSetting> numerics_settings(int threads, bool cpu_compute);

// One line per setting, "name=value", for the exchange; parse_fingerprint reads it back.
std::string fingerprint_text(const std::vector<NumericsSetting>& settings);
std::vector<NumericsSetting> parse_fingerprint(const std::string& text);

// Empty when every rank's fingerprint is the same; else one warning naming each setting that differs, its
// values and the nodes (hosts) and ranks that hold each, and how to make them agree. fingerprints[r] is
// rank r's fingerprint_text.
std::string numerics_mismatch_warning(const std::vector<std::string>& fingerprints, const NodeMap& nodes);

}  // namespace trident
