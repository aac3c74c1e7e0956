#include "core/runtime/threads.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

extern "C" void openblas_set_num_threads(int);

namespace trident {

int set_cpu_threads(int n) {
  if (n <= 0) {
    // Every core, shared among the ranks mpirun placed on this node.
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const int ranks_here = local ? std::max(1, std::atoi(local)) : 1;
    n = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / ranks_here);
  }
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return n;
}

ScopedCpuThreads::ScopedCpuThreads(int n) : previous_(omp_get_max_threads()) {
  set_cpu_threads(n);
}

ScopedCpuThreads::~ScopedCpuThreads() {
  set_cpu_threads(previous_);
}

}  // namespace trident
