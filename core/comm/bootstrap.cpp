#include "core/comm/bootstrap.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "core/comm/local_communicator.h"
#include "core/comm/mpi_communicator.h"
#include "core/comm/mpi_roll_call.h"
#include "core/comm/routed_communicator.h"
#include "core/comm/watchdog.h"
#include "core/runtime/devices.h"
#ifdef TRIDENT_WITH_CUDA
#include "core/comm/nccl_communicator.h"
#endif
#include "core/config/trident.pb.h"

namespace trident::comm {
namespace {

Runtime* g_current = nullptr;  // the process-wide runtime (MPI can be initialised once per process)

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

}  // namespace

bool launched_under_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"}) {
    if (std::getenv(var)) return true;
  }
  return false;
}

CommOptions CommOptions::from_env() {
  CommOptions o;
  o.verify_sequence = env_on("TRIDENT_COMM_VERIFY");
  o.log_info = env_on("TRIDENT_COMM_LOG");
  return o;
}

CommOptions CommOptions::from_config(const config::Config& config) {
  CommOptions o = from_env();
  if (config.comm().timeout_s() > 0) o.timeout_s = config.comm().timeout_s();
  return o;
}

Runtime::Runtime(const CommOptions& options) : options_(options) {
  TRIDENT_CHECK(g_current == nullptr, "only one trident::comm::Runtime may exist at a time");
  TRIDENT_CHECK(options_.timeout_s > 0, "comm timeout must be positive, got {}", options_.timeout_s);
  mpi_ = launched_under_mpi();
  if (mpi_) {
    int initialized = 0, finalized = 0;
    TRIDENT_MPI_CHECK(MPI_Initialized(&initialized));
    TRIDENT_MPI_CHECK(MPI_Finalized(&finalized));
    if (finalized) fail("MPI was already finalised in this process; it cannot be initialised again");
    if (!initialized) {
      int provided = 0;
      TRIDENT_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
      finalize_ = true;
      if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        fail("this MPI library offers thread level {}; Trident needs MPI_THREAD_SERIALIZED or better",
             provided);
      }
    }
    TRIDENT_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    TRIDENT_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
    TRIDENT_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
    // A hang must end the job, not wait forever: one clear message, then every rank goes down.
    watchdog_ = std::make_shared<Watchdog>(options_.timeout_s, [](const std::string& message) {
      std::fprintf(stderr, "%s\n", message.c_str());
      std::fflush(stderr);
      std::fflush(stdout);
      MPI_Abort(MPI_COMM_WORLD, 3);
      std::_Exit(3);
    });
    // On a timeout, the watchdog asks the group's other ranks which of them never entered the collective.
    attach_mpi_roll_call(*watchdog_);
  }
  g_current = this;
}

Runtime::~Runtime() {
  // Joins its thread, which calls MPI (roll calls), before MPI goes away, even if a communicator keeps the
  // watchdog itself alive longer.
  if (watchdog_) watchdog_->stop();
  watchdog_.reset();
  if (finalize_) {
    if (int rc = MPI_Finalize(); rc != MPI_SUCCESS)
      std::fprintf(stderr, "MPI_Finalize failed: %s\n", mpi_error_string(rc).c_str());
  }
  g_current = nullptr;
}

Runtime* Runtime::current() {
  return g_current;
}

std::unique_ptr<Communicator> Runtime::world() {
  if (!mpi_) return std::make_unique<LocalCommunicator>("world", options_.log_info);
  MPI_Comm comm = MPI_COMM_NULL;
  TRIDENT_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
  std::vector<int> ranks(world_size_);
  std::iota(ranks.begin(), ranks.end(), 0);
  return std::make_unique<MpiCommunicator>(comm, "world", std::move(ranks), watchdog_,
                                           MpiCommOptions{options_.verify_sequence, options_.log_info});
}

const char* backend_name(Backend b) {
  return b == Backend::nccl ? "nccl" : "mpi";
}

Backend resolve_backend(const std::string& setting, const Device& device) {
  if (setting.empty() || setting == "auto") return device.is_cuda() ? Backend::nccl : Backend::mpi;
  if (setting == "mpi") return Backend::mpi;
  if (setting != "nccl") fail("comm.backend '{}' is not one of auto, nccl, mpi", setting);
  if (!built_with_cuda())
    fail(
        "comm.backend 'nccl' needs the CUDA backend, which this build does not include (no nvcc was found); "
        "use comm.backend mpi or auto");
  if (!device.is_cuda())
    fail(
        "comm.backend 'nccl' on a {} device: NCCL works on GPU memory only; use comm.backend mpi (or auto) "
        "on "
        "CPU ranks, or runtime.device cuda",
        device.str());
  return Backend::nccl;
}

std::unique_ptr<Communicator> make_group(Communicator& world, const std::vector<int>& ranks,
                                         const std::string& name, Backend backend, const Device& device,
                                         bool p2p_on_device) {
  std::unique_ptr<Communicator> host = world.split(ranks, name);
  if (backend == Backend::mpi) return host;
#ifdef TRIDENT_WITH_CUDA
  TRIDENT_CHECK(device.is_cuda(), "group '{}': NCCL needs a cuda device, not {}", name, device.str());
  std::unique_ptr<Communicator> nccl =
      make_nccl_world(*host, device.index, RoutedCommunicator::device_name(name));
  return std::make_unique<RoutedCommunicator>(std::move(host), std::move(nccl), p2p_on_device);
#else
  (void)p2p_on_device;
  fail("group '{}' on {}: NCCL is not in this build (no nvcc was found)", name, device.str());
#endif
}

std::unique_ptr<Communicator> world() {
  if (Runtime* r = Runtime::current()) return r->world();
  static Runtime runtime;  // process-wide; its destructor finalises MPI at exit
  return runtime.world();
}

}  // namespace trident::comm
