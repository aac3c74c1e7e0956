#pragma once
// Bootstrap: the process-wide communication runtime. Under mpirun it initialises MPI once (MPI_Init_thread,
// asking for MPI_THREAD_MULTIPLE and needing at least MPI_THREAD_SERIALIZED: ops are posted and waited from
// one thread at a time; the watchdog thread calls MPI_Abort, and with MULTIPLE also runs its roll calls on a
// communicator of its own, mpi_roll_call.h), starts the watchdog, and finalises MPI when it ends. Without
// mpirun it never touches MPI: world() is a LocalCommunicator of one rank.
//
//   trident::comm::Runtime runtime(trident::comm::CommOptions::from_config(config));
//   auto world = runtime.world();  // "world"
#include <memory>
#include <string>
#include <vector>

#include "core/comm/communicator.h"

namespace trident::config {
class Config;
}

namespace trident::comm {

class Watchdog;

// True when mpirun (Open MPI, PMIx or PMI launchers) started this process.
bool launched_under_mpi();

struct CommOptions {
  double timeout_s = 300;  // watchdog: an op unfinished this long ends the job
  bool verify_sequence =
      false;              // TRIDENT_COMM_VERIFY=1: ranks check they run the same collective, every time
  bool log_info = false;  // TRIDENT_COMM_LOG=1: every op logged at info level (else debug)

  static CommOptions from_env();  // the defaults above, with the environment variables applied
  // comm.timeout_s from the config (0: 300 s), plus the environment variables.
  static CommOptions from_config(const config::Config& config);
};

class Runtime {
 public:
  explicit Runtime(const CommOptions& options = CommOptions::from_env());
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  bool mpi() const { return mpi_; }
  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  const CommOptions& options() const { return options_; }

  // A new communicator over every rank, named "world" (its own sequence numbers and log).
  std::unique_ptr<Communicator> world();

  // The live Runtime, or null.
  static Runtime* current();

 private:
  CommOptions options_;
  bool mpi_ = false;
  bool finalize_ = false;  // this Runtime initialised MPI, so it finalises it
  int world_rank_ = 0, world_size_ = 1;
  std::shared_ptr<Watchdog> watchdog_;
};

// Which library carries the training groups' collectives (comm.backend).
enum class Backend : uint8_t { mpi, nccl };
const char* backend_name(Backend b);

// comm.backend for a run whose model is on `device`: "auto" (or empty) is nccl on a GPU and mpi on CPU;
// "nccl" on a CPU device, "nccl" in a build without CUDA, and an unknown name are refused by name.
Backend resolve_backend(const std::string& setting, const Device& device);

// The group `ranks` of `world` (ranks of world, as for Communicator::split; every rank of world calls it with
// its own group, in the same order): with mpi, world's sub-communicator; with nccl, a RoutedCommunicator over
// that sub-communicator (host tensors) and an NCCL communicator on `device` made from it (rank 0's unique id
// broadcast over it, then ncclCommInitRank: one NCCL communicator per group).
// p2p_on_device = false keeps the group's sends and recvs on MPI (see RoutedCommunicator).
std::unique_ptr<Communicator> make_group(Communicator& world, const std::vector<int>& ranks,
                                         const std::string& name, Backend backend, const Device& device,
                                         bool p2p_on_device = true);

// The world communicator through the live Runtime, or through a process-wide one made on first use (options
// from the environment; MPI, if initialised, is finalised at exit).
std::unique_ptr<Communicator> world();

}  // namespace trident::comm
