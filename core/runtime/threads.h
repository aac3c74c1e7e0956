#pragma once
// CPU threads for one rank: OpenMP loops and OpenBLAS GEMMs share the same count.
namespace trident {

// n <= 0 means every core of this node, divided among the ranks mpirun started on it. Returns the count.
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
