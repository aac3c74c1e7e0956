#include "core/runtime/threads.h"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string_view>
#include <thread>

#include "core/runtime/error.h"
#include "core/runtime/rank_placement.h"

extern "C" void openblas_set_num_threads(int);

namespace trident {

const char* thread_source_name(ThreadSource s) {
  switch (s) {
    case ThreadSource::config:
      return "runtime.threads";
    case ThreadSource::env:
      return "OMP_NUM_THREADS";
    case ThreadSource::affinity:
      return "affinity";
  }
  return "?";
}

ThreadChoice choose_cpu_threads(int config_threads, const char* omp_env, int mask_cores, int sharing_ranks) {
  if (config_threads > 0) return {config_threads, ThreadSource::config};
  if (omp_env != nullptr && *omp_env != '\0') {
    const std::string_view text(omp_env);
    const std::string_view first = text.substr(0, text.find(','));  // "4,2": the outermost level
    int n = 0;
    const auto [end, ec] = std::from_chars(first.data(), first.data() + first.size(), n);
    if (ec != std::errc() || end != first.data() + first.size() || n < 1)
      fail("OMP_NUM_THREADS ('{}') must be a positive integer (or unset: threads from the affinity mask)",
           text);
    return {n, ThreadSource::env};
  }
  return {std::max(1, mask_cores / std::max(1, sharing_ranks)), ThreadSource::affinity};
}

ThreadChoice local_cpu_threads() {
  const int cores = mask_cores(affinity_mask());
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const bool bound = cores < static_cast<int>(std::thread::hardware_concurrency());
  const int sharing = local && !bound ? std::max(1, std::atoi(local)) : 1;
  return choose_cpu_threads(0, std::getenv("OMP_NUM_THREADS"), cores, sharing);
}

int set_cpu_threads(int n) {
  if (n <= 0) n = local_cpu_threads().threads;
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
