#pragma once
// CPU threads for one rank: OpenMP loops and OpenBLAS GEMMs share the same count.
namespace trident {

// n <= 0 means every core of this node, divided among the ranks mpirun started on it. Returns the count.
int set_cpu_threads(int n);

}  // namespace trident
