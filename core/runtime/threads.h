#pragma once
// CPU threads for one rank: OpenMP loops and OpenBLAS GEMMs share the same count.
//
// The count a rank uses, first that applies: runtime.threads when set (> 0); else OMP_NUM_THREADS when set;
// else the cores of the affinity mask mpirun bound the rank to, divided among the ranks of this node whose
// masks overlap it (an unbound rank's mask is every core, shared with every rank on the node).
#include <cstdint>

namespace trident {

enum class ThreadSource : uint8_t { config, env, affinity };
// "runtime.threads", "OMP_NUM_THREADS", "affinity"
const char* thread_source_name(ThreadSource s);

struct ThreadChoice {
  int threads = 1;
  ThreadSource source = ThreadSource::affinity;
};

// The policy above as a pure function. config_threads: runtime.threads (<= 0: not set). omp_env: the value
// of OMP_NUM_THREADS (null or empty: not set; a list such as "4,2" gives its first, outermost, level).
// mask_cores: cores in the affinity mask; sharing_ranks: ranks (this one included) whose masks overlap it.
// Throws trident::Error when OMP_NUM_THREADS is set but is not a positive integer.
ThreadChoice choose_cpu_threads(int config_threads, const char* omp_env, int mask_cores, int sharing_ranks);

// The policy with runtime.threads unset, the sharing ranks estimated without asking the other ranks: none
// when this process is bound to fewer cores than the machine has, else every rank mpirun started on this
// node. Training asks them instead (train/node_setup.h).
ThreadChoice local_cpu_threads();

// Sets the count: n > 0 exactly n; n <= 0 local_cpu_threads(). Returns the count.
int set_cpu_threads(int n);

// Sets the count for one scope and puts the previous one back after it: work too small to share, such as a
// decoding step's matrix-vector products, whose OpenMP team would cost more than it saves.
class ScopedCpuThreads {
 public:
  explicit ScopedCpuThreads(int n);
  ~ScopedCpuThreads();
  ScopedCpuThreads(const ScopedCpuThreads&) = delete;
  ScopedCpuThreads& operator=(const ScopedCpuThreads&) = delete;

 private:
  int previous_;
};

}  // namespace trident
