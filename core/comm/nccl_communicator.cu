// NcclCommunicator (see nccl_communicator.h). Host API calls only, no kernels: compiled as C++20 by the host
// compiler (CMakeLists.txt), since it includes the C++20 tensor headers.
#include "core/comm/nccl_communicator.h"

#include <cuda_runtime.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "core/comm/bootstrap.h"
#include "core/comm/comm_checks.h"
#include "core/comm/mpi_communicator.h"
#include "core/comm/nccl_check.h"
#include "core/runtime/cuda/cuda_check.h"
#include "core/runtime/cuda/device_guard.h"
#include "core/runtime/cuda/stream.h"
#include "core/runtime/devices.h"

namespace trident::comm {

namespace {

// An event for one op (or one batch of point-to-point ops), destroyed with the last Work that holds it
// (cudaEventDestroy on a pending event is safe: it is released when the work completes).
using Event = std::shared_ptr<CUevent_st>;

Event new_event() {
  cudaEvent_t e = nullptr;
  TRIDENT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return Event(e, [](CUevent_st* ev) { cudaEventDestroy(ev); });
}

// ncclGroupStart/End around `body`, ending the group even if a call in it throws.
template <typename Body>
void grouped(Body&& body) {
  TRIDENT_NCCL_CHECK(ncclGroupStart());
  try {
    body();
  } catch (...) {
    ncclGroupEnd();
    throw;
  }
  TRIDENT_NCCL_CHECK(ncclGroupEnd());
}

}  // namespace

// Where an op's completion will be recorded: set when the op is posted (at once for collectives, at the next
// flush for point-to-point ops).
struct Completion {
  Event event;
};

// A send or recv held back until the next flush (see NcclState::flush).
struct DeferredP2p {
  bool send = true;
  void* buffer = nullptr;
  size_t count = 0;
  ncclDataType_t type = ncclUint8;
  int peer = 0;
  std::shared_ptr<Completion> completion;
};

// One NCCL communicator and what its ops need; shared by the communicator and its pending Works, so a Work
// may outlive the communicator.
struct NcclState {
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;      // this communicator's ops, in order
  cudaEvent_t ready = nullptr;        // recorded on the compute stream before each op; the stream waits on it
  float* scratch = nullptr;           // barrier's one element
  std::atomic<bool> failed{false};    // an asynchronous error was seen: abort, since destroy would wait on it
  std::vector<DeferredP2p> deferred;  // sends and recvs not yet posted, in call order

  NcclState() = default;
  NcclState(const NcclState&) = delete;
  NcclState& operator=(const NcclState&) = delete;

  ~NcclState() {
    int previous = 0;
    if (cudaGetDevice(&previous) == cudaErrorCudartUnloading) return;  // process exit: the driver cleans up
    cudaSetDevice(device);
    if (comm) {
      const ncclResult_t rc = failed ? ncclCommAbort(comm) : ncclCommDestroy(comm);
      if (rc != ncclSuccess) spdlog::error("NCCL communicator teardown failed: {}", ncclGetErrorString(rc));
    }
    if (scratch) cudaFree(scratch);
    if (ready) cudaEventDestroy(ready);
    if (stream) cudaStreamDestroy(stream);
    cudaSetDevice(previous);
  }

  // Orders this communicator's next op after everything already enqueued on the device's compute stream.
  void after_default_stream() {
    TRIDENT_CUDA_CHECK(cudaEventRecord(ready, compute_stream(device)));
    TRIDENT_CUDA_CHECK(cudaStreamWaitEvent(stream, ready, 0));
  }

  // Posts the deferred sends and recvs as one NCCL group, so two ranks that each send to the other before
  // receiving do not deadlock (ungrouped, each send would wait on a recv queued behind the peer's own send on
  // its stream). Their buffers were already ordered after the compute stream when each op was called.
  void flush() {
    if (deferred.empty()) return;
    std::vector<DeferredP2p> ops;
    ops.swap(deferred);
    DeviceGuard guard(device);
    grouped([&] {
      for (const DeferredP2p& op : ops) {
        if (op.send) {
          TRIDENT_NCCL_CHECK(ncclSend(op.buffer, op.count, op.type, op.peer, comm, stream));
        } else {
          TRIDENT_NCCL_CHECK(ncclRecv(op.buffer, op.count, op.type, op.peer, comm, stream));
        }
      }
    });
    Event done = new_event();
    TRIDENT_CUDA_CHECK(cudaEventRecord(done.get(), stream));
    for (DeferredP2p& op : ops) op.completion->event = done;
  }

  // Throws if NCCL reported an asynchronous error (a failed peer, a broken connection).
  void check_async(const std::string& group) {
    ncclResult_t async = ncclSuccess;
    TRIDENT_NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
    if (async == ncclSuccess || async == ncclInProgress) return;
    failed = true;
    fail("NCCL communicator '{}' failed asynchronously: {} ({})", group, ncclGetErrorString(async),
         ncclGetLastError(comm));
  }
};

namespace {

// Takes ownership of `comm` (the state frees it even if what follows throws) and adds a stream, an event and
// the barrier's scratch element on `device`.
std::shared_ptr<NcclState> make_state(int device, ncclComm_t comm) {
  auto s = std::make_shared<NcclState>();
  s->device = device;
  s->comm = comm;
  DeviceGuard guard(device);
  // Non-blocking: the legacy default stream must not serialise with communication (overlap is the point).
  TRIDENT_CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
  TRIDENT_CUDA_CHECK(cudaEventCreateWithFlags(&s->ready, cudaEventDisableTiming));
  TRIDENT_CUDA_CHECK(cudaMalloc(&s->scratch, sizeof(float)));
  TRIDENT_CUDA_CHECK(cudaMemset(s->scratch, 0, sizeof(float)));
  return s;
}

// How a dtype travels: NCCL's type and elements of it per tensor element.
struct Wire {
  ncclDataType_t type;
  size_t per_element = 1;
};

// Reductions need NCCL's own type; moves (gather, broadcast, p2p, all-to-all) may carry u16 as bytes.
Wire wire(DType t, bool reduce, const char* op, const std::string& group) {
  switch (t) {
    case DType::f32:
      return {ncclFloat32};
    case DType::f64:
      return {ncclFloat64};
    case DType::f16:
      return {ncclFloat16};
    case DType::bf16:
      return {ncclBfloat16};
    case DType::i32:
      return {ncclInt32};
    case DType::u32:
      return {ncclUint32};
    case DType::u16:
      if (!reduce) return {ncclUint8, 2};
      break;
  }
  fail(
      "{} on '{}': NCCL has no {} type to reduce (it has no 16-bit integers); reduce u16 tensors through the "
      "MPI communicator, or as i32",
      op, group, dtype_name(t));
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return ncclSum;
    case ReduceOp::avg:
      return ncclAvg;
    case ReduceOp::max:
      return ncclMax;
  }
  return ncclSum;
}

// The event of one enqueued op; completion ends its CommLog record and releases the buffers it kept.
class NcclWork final : public Work {
 public:
  NcclWork(std::shared_ptr<NcclState> state, std::shared_ptr<CommLog> log, uint64_t ticket,
           std::shared_ptr<Completion> done, std::vector<std::shared_ptr<Storage>> keep)
      : state_(std::move(state)),
        log_(std::move(log)),
        ticket_(ticket),
        done_(std::move(done)),
        keep_(std::move(keep)) {}

  ~NcclWork() override {
    if (complete_) return;
    try {
      wait();
    } catch (const std::exception& e) {
      spdlog::error("[rank {}] {}: an unwaited NCCL op failed: {}", log_->global_rank(), log_->group(),
                    e.what());
    }
  }

  // Polls rather than cudaEventSynchronize, so a remote failure (an asynchronous NCCL error) ends the wait
  // with an error instead of blocking forever. Spins briefly first: most ops finish within microseconds.
  void wait() override {
    for (int polls = 0; !test(); ++polls) {
      if (polls < 1000) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }

  bool test() override {
    if (complete_) return true;
    if (!done_->event) {
      try {
        state_->flush();  // a deferred send or recv: post it (and the rest of its batch) now
      } catch (...) {
        complete();
        throw;
      }
      if (!done_->event) {
        const std::string what = log_->record(ticket_).what();
        complete();
        fail("{} on '{}' was never posted: the NCCL group that held it failed", what, log_->group());
      }
    }
    const cudaError_t status = cudaEventQuery(done_->event.get());
    if (status == cudaErrorNotReady) {
      try {
        state_->check_async(log_->group());
      } catch (...) {
        complete();
        throw;
      }
      return false;
    }
    complete();
    TRIDENT_CUDA_CHECK(status);
    return true;
  }

 private:
  void complete() {
    complete_ = true;
    log_->end(ticket_);
    keep_.clear();
  }

  std::shared_ptr<NcclState> state_;
  std::shared_ptr<CommLog> log_;
  uint64_t ticket_;
  std::shared_ptr<Completion> done_;
  std::vector<std::shared_ptr<Storage>> keep_;
  bool complete_ = false;
};

// Ends a record if posting throws before a Work takes it over.
struct TicketGuard {
  CommLog& log;
  uint64_t ticket;
  bool armed = true;
  ~TicketGuard() {
    if (armed) log.end(ticket);
  }
};

char* bytes_at(const Tensor& t, int64_t elements) {
  return static_cast<char*>(t.raw()) + elements * static_cast<int64_t>(dtype_size(t.dtype()));
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

}  // namespace

NcclCommunicator::NcclCommunicator(std::shared_ptr<NcclState> state, std::string name,
                                   std::vector<int> global_ranks, std::shared_ptr<Watchdog> watchdog,
                                   bool log_info)
    : state_(std::move(state)),
      name_(std::move(name)),
      global_ranks_(std::move(global_ranks)),
      watchdog_(std::move(watchdog)),
      log_info_(log_info) {
  TRIDENT_CHECK(state_ && state_->comm, "'{}': no NCCL communicator", name_);
  TRIDENT_NCCL_CHECK(ncclCommUserRank(state_->comm, &rank_));
  TRIDENT_NCCL_CHECK(ncclCommCount(state_->comm, &size_));
  TRIDENT_CHECK(static_cast<int>(global_ranks_.size()) == size_, "'{}': {} global ranks for a group of {}",
                name_, global_ranks_.size(), size_);
  log_ = std::make_shared<CommLog>(name_, global_ranks_[rank_], global_ranks_, log_info_);
  if (watchdog_) watchdog_->watch(log_);
}

NcclCommunicator::~NcclCommunicator() = default;

int NcclCommunicator::device() const {
  return state_->device;
}

void NcclCommunicator::on_device(const char* op, const char* what, const Tensor& t) const {
  if (t.device() == Device::cuda(state_->device)) return;
  if (t.device().is_cpu()) {
    fail(
        "{} on '{}': {} is a cpu tensor, but NCCL works on device memory (cuda:{}); copy it to the device, "
        "or use the MPI communicator for host tensors",
        op, name_, what, state_->device);
  }
  fail("{} on '{}': {} is on {}, but this NCCL communicator's device is cuda:{}", op, name_, what,
       t.device().str(), state_->device);
}

template <typename Post>
WorkPtr NcclCommunicator::launch(bool collective, const char* op, DType dtype, int64_t count,
                                 std::string extra, std::vector<std::shared_ptr<Storage>> keep, Post&& post) {
  DeviceGuard guard(state_->device);
  state_->check_async(name_);  // a communicator that already failed takes no more ops
  state_->flush();             // point-to-point ops called before this one are posted before it
  const uint64_t ticket = log_->begin(collective, op, dtype, count, std::move(extra));
  TicketGuard record{*log_, ticket};
  state_->after_default_stream();
  post(state_->comm, state_->stream);
  auto done = std::make_shared<Completion>();
  done->event = new_event();
  TRIDENT_CUDA_CHECK(cudaEventRecord(done->event.get(), state_->stream));
  record.armed = false;
  return std::make_unique<NcclWork>(state_, log_, ticket, std::move(done), std::move(keep));
}

WorkPtr NcclCommunicator::defer(bool send, const Tensor& t, int peer, int tag) {
  const char* op = send ? "send" : "recv";
  checks::peer(*this, op, t, peer);
  on_device(op, "t", t);
  TRIDENT_CHECK(tag >= 0, "{} on '{}': negative tag {}", op, name_, tag);
  const Wire w = wire(t.dtype(), false, op, name_);
  DeviceGuard guard(state_->device);
  state_->check_async(name_);
  const uint64_t ticket = log_->begin(false, op, t.dtype(), t.numel(),
                                      fmt::format("{} rank {}, tag {}", send ? "to" : "from", peer, tag));
  TicketGuard record{*log_, ticket};
  // The buffer is ordered after the compute stream now, when it holds what the caller meant; the NCCL call
  // itself waits for the next flush.
  state_->after_default_stream();
  auto done = std::make_shared<Completion>();
  state_->deferred.push_back(
      {send, t.raw(), static_cast<size_t>(t.numel()) * w.per_element, w.type, peer, done});
  record.armed = false;
  return std::make_unique<NcclWork>(state_, log_, ticket, std::move(done),
                                    std::vector<std::shared_ptr<Storage>>{t.storage()});
}

void NcclCommunicator::flush() {
  state_->flush();
}

WorkPtr NcclCommunicator::all_reduce_async(Tensor& t, ReduceOp op) {
  checks::all_reduce(*this, t);
  on_device("all_reduce", "t", t);
  const Wire w = wire(t.dtype(), true, "all_reduce", name_);
  return launch(true, "all_reduce", t.dtype(), t.numel(), reduce_op_name(op), {t.storage()},
                [&](ncclComm_t comm, cudaStream_t stream) {
                  TRIDENT_NCCL_CHECK(ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), w.type,
                                                   nccl_op(op), comm, stream));
                });
}

WorkPtr NcclCommunicator::reduce_scatter_async(Tensor& out, const Tensor& in, ReduceOp op) {
  checks::reduce_scatter(*this, out, in);
  on_device("reduce_scatter", "out", out);
  on_device("reduce_scatter", "in", in);
  const Wire w = wire(in.dtype(), true, "reduce_scatter", name_);
  return launch(true, "reduce_scatter", in.dtype(), in.numel(), reduce_op_name(op),
                {out.storage(), in.storage()}, [&](ncclComm_t comm, cudaStream_t stream) {
                  TRIDENT_NCCL_CHECK(ncclReduceScatter(in.raw(), out.raw(), static_cast<size_t>(out.numel()),
                                                       w.type, nccl_op(op), comm, stream));
                });
}

WorkPtr NcclCommunicator::all_gather_async(Tensor& out, const Tensor& in) {
  checks::all_gather(*this, out, in);
  on_device("all_gather", "out", out);
  on_device("all_gather", "in", in);
  const Wire w = wire(in.dtype(), false, "all_gather", name_);
  return launch(true, "all_gather", in.dtype(), in.numel(), "", {out.storage(), in.storage()},
                [&](ncclComm_t comm, cudaStream_t stream) {
                  TRIDENT_NCCL_CHECK(
                      ncclAllGather(in.raw(), out.raw(), in.numel() * w.per_element, w.type, comm, stream));
                });
}

WorkPtr NcclCommunicator::broadcast_async(Tensor& t, int root) {
  checks::broadcast(*this, t, root);
  on_device("broadcast", "t", t);
  const Wire w = wire(t.dtype(), false, "broadcast", name_);
  return launch(true, "broadcast", t.dtype(), t.numel(), fmt::format("root {}", root), {t.storage()},
                [&](ncclComm_t comm, cudaStream_t stream) {
                  TRIDENT_NCCL_CHECK(
                      ncclBroadcast(t.raw(), t.raw(), t.numel() * w.per_element, w.type, root, comm, stream));
                });
}

WorkPtr NcclCommunicator::send_async(const Tensor& t, int peer, int tag) {
  return defer(true, t, peer, tag);
}

WorkPtr NcclCommunicator::recv_async(Tensor& t, int peer, int tag) {
  return defer(false, t, peer, tag);
}

WorkPtr NcclCommunicator::all_to_all_async(Tensor& out, const Tensor& in) {
  checks::all_to_all(*this, out, in);
  const std::vector<int64_t> counts(size_, in.numel() / size_);
  return exchange("all_to_all", out, counts, in, counts);
}

WorkPtr NcclCommunicator::all_to_allv_async(Tensor& out, const std::vector<int64_t>& recv_counts,
                                            const Tensor& in, const std::vector<int64_t>& send_counts) {
  checks::all_to_allv(*this, out, recv_counts, in, send_counts);
  return exchange("all_to_allv", out, recv_counts, in, send_counts);
}

// Grouped point-to-point: block j of `in` to rank j, block i of `out` from rank i; this rank's own block is a
// device copy on the same stream. Empty blocks are skipped on both sides (the counts agree).
WorkPtr NcclCommunicator::exchange(const char* op, Tensor& out, const std::vector<int64_t>& recv_counts,
                                   const Tensor& in, const std::vector<int64_t>& send_counts) {
  on_device(op, "out", out);
  on_device(op, "in", in);
  const Wire w = wire(in.dtype(), false, op, name_);
  const size_t esize = dtype_size(in.dtype());
  return launch(
      true, op, in.dtype(), in.numel(), "", {out.storage(), in.storage()},
      [&](ncclComm_t comm, cudaStream_t stream) {
        int64_t soff = 0, roff = 0;
        grouped([&] {
          for (int j = 0; j < size_; ++j) {
            const int64_t sn = send_counts[j], rn = recv_counts[j];
            if (j == rank_) {
              TRIDENT_CHECK(sn == rn, "{} on '{}': {} elements to itself but {} from itself", op, name_, sn,
                            rn);
              if (sn > 0) {
                TRIDENT_CUDA_CHECK(cudaMemcpyAsync(bytes_at(out, roff), bytes_at(in, soff), sn * esize,
                                                   cudaMemcpyDeviceToDevice, stream));
              }
            } else {
              if (sn > 0)
                TRIDENT_NCCL_CHECK(ncclSend(bytes_at(in, soff), sn * w.per_element, w.type, j, comm, stream));
              if (rn > 0)
                TRIDENT_NCCL_CHECK(
                    ncclRecv(bytes_at(out, roff), rn * w.per_element, w.type, j, comm, stream));
            }
            soff += sn;
            roff += rn;
          }
        });
      });
}

WorkPtr NcclCommunicator::barrier_async() {
  // One element summed over the group: no rank completes it before every rank has posted it.
  return launch(true, "barrier", DType::f32, -1, "", {}, [&](ncclComm_t comm, cudaStream_t stream) {
    TRIDENT_NCCL_CHECK(
        ncclAllReduce(state_->scratch, state_->scratch, 1, ncclFloat32, ncclSum, comm, stream));
  });
}

std::unique_ptr<Communicator> NcclCommunicator::split(const std::vector<int>& ranks,
                                                      const std::string& name) {
  checks::split(*this, ranks);
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 18, 0)
  DeviceGuard guard(state_->device);
  state_->check_async(name_);
  state_->flush();
  const uint64_t ticket = log_->begin(true, "split", DType::f32, -1, name);
  TicketGuard record{*log_, ticket};
  ncclComm_t child_comm = nullptr;
  // colour = the group's first rank, key = rank here: ranks keep their order in the new group.
  TRIDENT_NCCL_CHECK(ncclCommSplit(state_->comm, ranks.front(), rank_, &child_comm, nullptr));
  std::shared_ptr<NcclState> child = make_state(state_->device, child_comm);
  int child_size = 0;
  TRIDENT_NCCL_CHECK(ncclCommCount(child->comm, &child_size));
  // Which ranks formed the group: each member's rank here, gathered over the new communicator.
  Tensor mine = Tensor::empty({1}, DType::i32, Device::cuda(state_->device));
  Tensor all = Tensor::empty({child_size}, DType::i32, Device::cuda(state_->device));
  mine.fill(rank_);
  child->after_default_stream();
  TRIDENT_NCCL_CHECK(ncclAllGather(mine.raw(), all.raw(), 1, ncclInt32, child->comm, child->stream));
  TRIDENT_CUDA_CHECK(cudaStreamSynchronize(child->stream));
  std::vector<int> got, global;
  for (float r : all.to_vector()) {
    got.push_back(static_cast<int>(r));
    global.push_back(global_ranks_.at(static_cast<int>(r)));
  }
  if (got != ranks) {
    fail(
        "split of '{}' into '{}': this rank passed ranks [{}], but the ranks that named {} first formed "
        "[{}]; "
        "every rank of a partition must pass the same list",
        name_, name, fmt::join(ranks, ","), ranks.front(), fmt::join(got, ","));
  }
  return std::make_unique<NcclCommunicator>(std::move(child), name, std::move(global), watchdog_, log_info_);
#else
  fail("split of '{}': NCCL {}.{} has no ncclCommSplit; Trident's NCCL sub-groups need NCCL 2.18 or newer",
       name_, NCCL_MAJOR, NCCL_MINOR);
#endif
}

namespace {

// Refuses a missing device and two ranks on one GPU before NCCL does (its own error only says "invalid
// usage"), on every rank alike: each rank gathers (its world rank, whether its device exists, a hash of host
// name and PCI bus id) over mpi_world. Returns the world ranks.
std::vector<int> gather_ranks_and_check_gpus(Communicator& mpi_world, int device, const std::string& name) {
  int count = 0;
  TRIDENT_CUDA_CHECK(cudaGetDeviceCount(&count));
  const bool exists = 0 <= device && device < count;
  std::string where = "no such device";
  if (exists) {
    char bus_id[64] = {};
    TRIDENT_CUDA_CHECK(cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), device));
    where = fmt::format("{} on {}", bus_id, host_name());
  }
  const uint64_t h = fnv1a(where);
  Tensor mine = Tensor::empty({4}, DType::u32);
  auto* m = mine.data<uint32_t>();
  m[0] = static_cast<uint32_t>(mpi_world.global_rank());
  m[1] = exists ? 1 : 0;
  m[2] = static_cast<uint32_t>(h >> 32);
  m[3] = static_cast<uint32_t>(h);
  Tensor all = Tensor::empty({4 * mpi_world.size()}, DType::u32);
  mpi_world.all_gather(all, mine);
  const auto* a = all.data<uint32_t>();
  std::vector<int> global(mpi_world.size()), missing;
  std::map<uint64_t, std::vector<int>> by_gpu;
  for (int r = 0; r < mpi_world.size(); ++r) {
    const uint32_t* e = a + 4 * r;
    global[r] = static_cast<int>(e[0]);
    if (e[1] == 0) missing.push_back(global[r]);
    by_gpu[(uint64_t{e[2]} << 32) | e[3]].push_back(global[r]);
  }
  if (!missing.empty()) {
    fail("NCCL world '{}': ranks {} asked for a GPU that does not exist (this rank: cuda:{} of {} visible)",
         name, ranks_str(missing), device, count);
  }
  for (const auto& entry : by_gpu) {
    const std::vector<int>& members = entry.second;
    if (members.size() < 2) continue;
    fail(
        "NCCL world '{}': ranks {} share one GPU (this rank uses cuda:{}, {}); NCCL needs a GPU of its own "
        "for "
        "every rank: pick devices with local_device() and run at most as many ranks per node as it has GPUs",
        name, ranks_str(members), device, where);
  }
  return global;
}

}  // namespace

std::unique_ptr<Communicator> make_nccl_world(Communicator& mpi_world, int device, const std::string& name) {
  std::vector<int> global = gather_ranks_and_check_gpus(mpi_world, device, name);

  // Rank 0's unique id reaches every rank over mpi_world, as 32-bit words.
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  static_assert(sizeof(ncclUniqueId) % sizeof(uint32_t) == 0);
  if (mpi_world.rank() == 0) TRIDENT_NCCL_CHECK(ncclGetUniqueId(&id));
  Tensor words = Tensor::empty({static_cast<int64_t>(sizeof(id) / sizeof(uint32_t))}, DType::u32);
  std::memcpy(words.raw(), &id, sizeof(id));
  mpi_world.broadcast(words, 0);
  std::memcpy(&id, words.raw(), sizeof(id));

  DeviceGuard guard(device);
  ncclComm_t comm = nullptr;
  TRIDENT_NCCL_CHECK(ncclCommInitRank(&comm, mpi_world.size(), id, mpi_world.rank()));
  std::shared_ptr<NcclState> state = make_state(device, comm);

  std::shared_ptr<Watchdog> watchdog;
  if (auto* mpi = dynamic_cast<MpiCommunicator*>(&mpi_world)) watchdog = mpi->watchdog();
  const bool log_info = CommOptions::from_env().log_info;
  return std::make_unique<NcclCommunicator>(std::move(state), name, std::move(global), std::move(watchdog),
                                            log_info);
}

int local_device() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    fail("no CUDA device for this rank ({})",
         status != cudaSuccess ? cudaGetErrorString(status) : "the driver reports none");
  }
  return local_rank() % count;
}

}  // namespace trident::comm
