#pragma once
// CPU threads for one rank: OpenMP loops and OpenBLAS GEMMs share the same count.
namespace trident {

// n <= 0 means every core. Returns the count in use.
int set_cpu_threads(int n);

}  // namespace trident
