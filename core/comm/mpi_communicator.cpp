#include "core/comm/mpi_communicator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <climits>
#include <functional>
#include <map>
#include <mutex>

#include "core/comm/comm_checks.h"
#include "core/comm/mpi_staging.h"

namespace trident::comm {

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return fmt::format("MPI error {}", code);
  return std::string(text, len);
}

void mpi_fail(const char* call, int code, const char* file, int line) {
  throw Error(fmt::format("{}:{}: MPI call failed: {}: {}", file, line, call, mpi_error_string(code)));
}

namespace {

// Element-wise ops are posted in chunks that fit MPI's int counts.
constexpr int64_t kMaxChunk = int64_t{1} << 30;

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i32:
      return MPI_INT32_T;
    case DType::u32:
      return MPI_UINT32_T;
    case DType::bf16:  // moved as 2-byte words; reduced by the half ops below
    case DType::f16:
    case DType::u16:
      return MPI_UINT16_T;
  }
  return MPI_BYTE;
}

// bf16 and f16 reductions: MPI has neither, so these add / compare in float and round back. Commutative.
template <typename H>
void half_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const H*>(in);
  auto* b = static_cast<H*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = H(static_cast<float>(a[i]) + static_cast<float>(b[i]));
}

template <typename H>
void half_max(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const H*>(in);
  auto* b = static_cast<H*>(inout);
  for (int i = 0; i < *len; ++i) {
    if (static_cast<float>(a[i]) > static_cast<float>(b[i])) b[i] = a[i];
  }
}

// Created once per type, on first use; MPI_Finalize releases them.
template <typename H>
MPI_Op half_op(ReduceOp op) {
  static std::once_flag once;
  static MPI_Op sum = MPI_OP_NULL, max = MPI_OP_NULL;
  std::call_once(once, [] {
    TRIDENT_MPI_CHECK(MPI_Op_create(&half_sum<H>, 1, &sum));
    TRIDENT_MPI_CHECK(MPI_Op_create(&half_max<H>, 1, &max));
  });
  return op == ReduceOp::max ? max : sum;
}

MPI_Op mpi_op(DType t, ReduceOp op) {
  if (t == DType::bf16) return half_op<bf16>(op);
  if (t == DType::f16) return half_op<f16>(op);
  return op == ReduceOp::max ? MPI_MAX : MPI_SUM;
}

// avg = sum / n, in place. Integer tensors use integer division (truncating toward zero).
template <typename T>
void divide_as(Tensor& t, int n) {
  T* p = t.data<T>();
  for (int64_t i = 0, e = t.numel(); i < e; ++i) {
    if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>) {
      p[i] = T(static_cast<float>(p[i]) / static_cast<float>(n));
    } else {
      p[i] = static_cast<T>(p[i] / static_cast<T>(n));
    }
  }
}

void divide(Tensor& t, int n) {
  switch (t.dtype()) {
    case DType::f32:
      return divide_as<float>(t, n);
    case DType::f64:
      return divide_as<double>(t, n);
    case DType::bf16:
      return divide_as<bf16>(t, n);
    case DType::i32:
      return divide_as<int32_t>(t, n);
    case DType::u16:
      return divide_as<uint16_t>(t, n);
    case DType::u32:
      return divide_as<uint32_t>(t, n);
    case DType::f16:
      return divide_as<f16>(t, n);
  }
}

int to_int(int64_t n, const char* op, const std::string& group) {
  if (n > INT_MAX) fail("{} on '{}': count {} exceeds MPI's int counts", op, group, n);
  return static_cast<int>(n);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Requests of one op; completion ends its CommLog record and runs its epilogue (avg's divide, recv's check).
class MpiWork final : public Work {
 public:
  MpiWork(std::shared_ptr<CommLog> log, uint64_t ticket) : log_(std::move(log)), ticket_(ticket) {}
  ~MpiWork() override {
    if (done_) return;
    try {
      wait();
    } catch (const std::exception& e) {
      spdlog::error("[rank {}] {}: an unwaited op failed: {}", log_->global_rank(), log_->group(), e.what());
    }
  }

  MPI_Request* add_request() {
    requests_.push_back(MPI_REQUEST_NULL);
    return &requests_.back();
  }
  void keep(std::shared_ptr<const void> p) { keep_.push_back(std::move(p)); }
  std::function<void(std::vector<MPI_Status>&)> on_done;

  void wait() override {
    if (done_) return;
    std::vector<MPI_Status> statuses(requests_.size());
    int rc = MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), statuses.data());
    complete(rc, statuses);
  }

  bool test() override {
    if (done_) return true;
    std::vector<MPI_Status> statuses(requests_.size());
    int flag = 0;
    int rc = MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &flag, statuses.data());
    if (rc == MPI_SUCCESS && !flag) return false;
    complete(rc, statuses);
    return true;
  }

 private:
  void complete(int rc, std::vector<MPI_Status>& statuses) {
    done_ = true;
    log_->end(ticket_);
    if (rc == MPI_ERR_IN_STATUS) {
      for (const auto& s : statuses) {
        if (s.MPI_ERROR != MPI_SUCCESS && s.MPI_ERROR != MPI_ERR_PENDING) rc = s.MPI_ERROR;
      }
    }
    if (rc != MPI_SUCCESS) mpi_fail("MPI_Waitall", rc, __FILE__, __LINE__);
    if (on_done) on_done(statuses);
  }

  std::shared_ptr<CommLog> log_;
  uint64_t ticket_;
  std::vector<MPI_Request> requests_;
  std::vector<std::shared_ptr<const void>> keep_;  // buffers and count arrays MPI reads until completion
  bool done_ = false;
};

std::unique_ptr<MpiWork> new_work(const std::shared_ptr<CommLog>& log, uint64_t ticket, const Tensor& a,
                                  const Tensor& b = {}) {
  auto w = std::make_unique<MpiWork>(log, ticket);
  if (a.defined()) w->keep(a.storage());
  if (b.defined()) w->keep(b.storage());
  return w;
}

// A staged output: copied back to its device tensor once the op is done (after the epilogue, e.g. avg's
// divide, which runs on the host copy).
void copy_back(MpiWork& w, const Tensor& device_tensor, const Tensor& host) {
  if (!staged(device_tensor, host)) return;
  w.on_done = [then = std::move(w.on_done), d = device_tensor, host](std::vector<MPI_Status>& s) mutable {
    if (then) then(s);
    d.copy_from(host);
  };
}

// Ends a record if posting throws before a Work takes it over.
struct TicketGuard {
  CommLog& log;
  uint64_t ticket;
  bool armed = true;
  ~TicketGuard() {
    if (armed) log.end(ticket);
  }
};

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name, std::vector<int> global_ranks,
                                 std::shared_ptr<Watchdog> watchdog, MpiCommOptions options)
    : comm_(comm),
      name_(std::move(name)),
      global_ranks_(std::move(global_ranks)),
      watchdog_(std::move(watchdog)),
      options_(options) {
  TRIDENT_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  TRIDENT_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  TRIDENT_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  TRIDENT_CHECK(static_cast<int>(global_ranks_.size()) == size_, "'{}': {} global ranks for a group of {}",
                name_, global_ranks_.size(), size_);
  log_ = std::make_shared<CommLog>(name_, global_ranks_[rank_], global_ranks_, options_.log_info);
  if (watchdog_) watchdog_->watch(log_);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized || comm_ == MPI_COMM_NULL) return;
  if (int rc = MPI_Comm_free(&comm_); rc != MPI_SUCCESS) {
    spdlog::error("MPI_Comm_free of '{}' failed: {}", name_, mpi_error_string(rc));
  }
}

uint64_t MpiCommunicator::begin_collective(const char* op, DType dtype, int64_t count, std::string extra,
                                           const std::string& agree) {
  uint64_t ticket = log_->begin(true, op, dtype, count, std::move(extra));
  if (options_.verify_sequence) {
    TicketGuard guard{*log_, ticket};
    verify(ticket, agree);
    guard.armed = false;
  }
  return ticket;
}

void MpiCommunicator::verify(uint64_t ticket, const std::string& agree) {
  const OpRecord& r = log_->record(ticket);
  const uint64_t h = fnv1a(fmt::format("{}|{}", r.seq, agree.empty() ? r.what() : agree));
  uint64_t v[2] = {h, ~h};  // one MAX reduction gives both max(h) and ~min(h)
  TRIDENT_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, comm_));
  if (v[0] == h && ~v[1] == h) return;
  // Every rank saw the same max and min, so all of them are here: gather what each one runs.
  constexpr int kLen = 160;
  std::string mine = r.what().substr(0, kLen - 1);
  std::vector<char> buf(kLen, '\0'), all(static_cast<size_t>(kLen) * size_);
  std::copy(mine.begin(), mine.end(), buf.begin());
  TRIDENT_MPI_CHECK(MPI_Allgather(buf.data(), kLen, MPI_CHAR, all.data(), kLen, MPI_CHAR, comm_));
  std::map<std::string, std::vector<int>> by_op;
  for (int i = 0; i < size_; ++i)
    by_op[std::string(&all[static_cast<size_t>(i) * kLen])].push_back(global_ranks_[i]);
  std::vector<std::string> parts;
  for (const auto& [what, ranks] : by_op) {
    if (what == mine) continue;
    parts.push_back(fmt::format("{} {} {} {}", ranks.size() == 1 ? "rank" : "ranks", ranks_str(ranks),
                                ranks.size() == 1 ? "runs" : "run", what));
  }
  fail(
      "ranks disagree on collective {} of '{}': this rank ({}) runs {}, while {}. Every rank of a group must "
      "run "
      "the same collectives in the same order.",
      r.label(), name_, global_rank(), r.what(), fmt::join(parts, "; "));
}

WorkPtr MpiCommunicator::all_reduce_async(Tensor& device_t, ReduceOp op) {
  checks::all_reduce(*this, device_t);
  Tensor t = host_side(device_t, true);
  uint64_t ticket = begin_collective("all_reduce", t.dtype(), t.numel(), reduce_op_name(op), "");
  auto w = new_work(log_, ticket, t);
  const MPI_Datatype type = mpi_type(t.dtype());
  const MPI_Op mop = mpi_op(t.dtype(), op);
  const size_t esize = dtype_size(t.dtype());
  for (int64_t off = 0; off < t.numel(); off += kMaxChunk) {
    int n = static_cast<int>(std::min(kMaxChunk, t.numel() - off));
    void* p = static_cast<char*>(t.raw()) + off * esize;
    TRIDENT_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, p, n, type, mop, comm_, w->add_request()));
  }
  if (op == ReduceOp::avg) w->on_done = [t, n = size_](std::vector<MPI_Status>&) mutable { divide(t, n); };
  copy_back(*w, device_t, t);
  return w;
}

WorkPtr MpiCommunicator::reduce_scatter_async(Tensor& device_out, const Tensor& device_in, ReduceOp op) {
  checks::reduce_scatter(*this, device_out, device_in);
  Tensor out = host_side(device_out, false), in = host_side(device_in, true);
  const int n = to_int(out.numel(), "reduce_scatter", name_);
  uint64_t ticket = begin_collective("reduce_scatter", in.dtype(), in.numel(), reduce_op_name(op), "");
  auto w = new_work(log_, ticket, out, in);
  TRIDENT_MPI_CHECK(MPI_Ireduce_scatter_block(in.raw(), out.raw(), n, mpi_type(in.dtype()),
                                              mpi_op(in.dtype(), op), comm_, w->add_request()));
  if (op == ReduceOp::avg)
    w->on_done = [out, s = size_](std::vector<MPI_Status>&) mutable { divide(out, s); };
  copy_back(*w, device_out, out);
  return w;
}

WorkPtr MpiCommunicator::all_gather_async(Tensor& device_out, const Tensor& device_in) {
  checks::all_gather(*this, device_out, device_in);
  Tensor out = host_side(device_out, false), in = host_side(device_in, true);
  const int n = to_int(in.numel(), "all_gather", name_);
  uint64_t ticket = begin_collective("all_gather", in.dtype(), in.numel(), "", "");
  auto w = new_work(log_, ticket, out, in);
  const MPI_Datatype type = mpi_type(in.dtype());
  TRIDENT_MPI_CHECK(MPI_Iallgather(in.raw(), n, type, out.raw(), n, type, comm_, w->add_request()));
  copy_back(*w, device_out, out);
  return w;
}

WorkPtr MpiCommunicator::broadcast_async(Tensor& device_t, int root) {
  checks::broadcast(*this, device_t, root);
  Tensor t = host_side(device_t, rank_ == root);
  uint64_t ticket = begin_collective("broadcast", t.dtype(), t.numel(), fmt::format("root {}", root), "");
  auto w = new_work(log_, ticket, t);
  const MPI_Datatype type = mpi_type(t.dtype());
  const size_t esize = dtype_size(t.dtype());
  for (int64_t off = 0; off < t.numel(); off += kMaxChunk) {
    int n = static_cast<int>(std::min(kMaxChunk, t.numel() - off));
    void* p = static_cast<char*>(t.raw()) + off * esize;
    TRIDENT_MPI_CHECK(MPI_Ibcast(p, n, type, root, comm_, w->add_request()));
  }
  if (rank_ != root) copy_back(*w, device_t, t);
  return w;
}

WorkPtr MpiCommunicator::send_async(const Tensor& device_t, int peer, int tag) {
  checks::peer(*this, "send", device_t, peer);
  const Tensor t = host_side(device_t, true);
  TRIDENT_CHECK(tag >= 0, "send on '{}': negative tag {}", name_, tag);
  const int n = to_int(t.numel(), "send", name_);
  uint64_t ticket =
      log_->begin(false, "send", t.dtype(), t.numel(), fmt::format("to rank {}, tag {}", peer, tag));
  auto w = new_work(log_, ticket, t);
  TRIDENT_MPI_CHECK(MPI_Isend(t.raw(), n, mpi_type(t.dtype()), peer, tag, comm_, w->add_request()));
  return w;
}

WorkPtr MpiCommunicator::recv_async(Tensor& device_t, int peer, int tag) {
  checks::peer(*this, "recv", device_t, peer);
  Tensor t = host_side(device_t, false);
  TRIDENT_CHECK(tag >= 0, "recv on '{}': negative tag {}", name_, tag);
  const int n = to_int(t.numel(), "recv", name_);
  uint64_t ticket =
      log_->begin(false, "recv", t.dtype(), t.numel(), fmt::format("from rank {}, tag {}", peer, tag));
  auto w = new_work(log_, ticket, t);
  const MPI_Datatype type = mpi_type(t.dtype());
  TRIDENT_MPI_CHECK(MPI_Irecv(t.raw(), n, type, peer, tag, comm_, w->add_request()));
  w->on_done = [n, type, peer, name = name_](std::vector<MPI_Status>& s) {
    int got = 0;
    TRIDENT_MPI_CHECK(MPI_Get_count(&s[0], type, &got));
    if (got != n) fail("recv on '{}' from rank {}: got {} elements, expected {}", name, peer, got, n);
  };
  copy_back(*w, device_t, t);
  return w;
}

WorkPtr MpiCommunicator::all_to_all_async(Tensor& device_out, const Tensor& device_in) {
  checks::all_to_all(*this, device_out, device_in);
  Tensor out = host_side(device_out, false), in = host_side(device_in, true);
  const int n = to_int(in.numel() / size_, "all_to_all", name_);
  uint64_t ticket = begin_collective("all_to_all", in.dtype(), in.numel(), "", "");
  auto w = new_work(log_, ticket, out, in);
  const MPI_Datatype type = mpi_type(in.dtype());
  TRIDENT_MPI_CHECK(MPI_Ialltoall(in.raw(), n, type, out.raw(), n, type, comm_, w->add_request()));
  copy_back(*w, device_out, out);
  return w;
}

WorkPtr MpiCommunicator::all_to_allv_async(Tensor& device_out, const std::vector<int64_t>& recv_counts,
                                           const Tensor& device_in, const std::vector<int64_t>& send_counts) {
  checks::all_to_allv(*this, device_out, recv_counts, device_in, send_counts);
  Tensor out = host_side(device_out, false), in = host_side(device_in, true);
  // counts and displacements, as MPI's ints; MPI reads them until the op completes, so the Work keeps them.
  auto arrays = std::make_shared<std::vector<int>>(4 * size_);
  int* sc = arrays->data();
  int* sd = sc + size_;
  int* rc = sd + size_;
  int* rd = rc + size_;
  int64_t soff = 0, roff = 0;
  for (int i = 0; i < size_; ++i) {
    sc[i] = to_int(send_counts[i], "all_to_allv", name_);
    rc[i] = to_int(recv_counts[i], "all_to_allv", name_);
    sd[i] = to_int(soff, "all_to_allv", name_);
    rd[i] = to_int(roff, "all_to_allv", name_);
    soff += send_counts[i];
    roff += recv_counts[i];
  }
  uint64_t ticket = begin_collective("all_to_allv", in.dtype(), in.numel(), "",
                                     fmt::format("all_to_allv {}", dtype_name(in.dtype())));
  auto w = new_work(log_, ticket, out, in);
  w->keep(arrays);
  const MPI_Datatype type = mpi_type(in.dtype());
  TRIDENT_MPI_CHECK(MPI_Ialltoallv(in.raw(), sc, sd, type, out.raw(), rc, rd, type, comm_, w->add_request()));
  copy_back(*w, device_out, out);
  return w;
}

WorkPtr MpiCommunicator::barrier_async() {
  uint64_t ticket = begin_collective("barrier", DType::f32, -1, "", "");
  auto w = std::make_unique<MpiWork>(log_, ticket);
  TRIDENT_MPI_CHECK(MPI_Ibarrier(comm_, w->add_request()));
  return w;
}

std::unique_ptr<Communicator> MpiCommunicator::split(const std::vector<int>& ranks, const std::string& name) {
  checks::split(*this, ranks);
  uint64_t ticket = begin_collective("split", DType::f32, -1, name, "split");
  TicketGuard guard{*log_, ticket};
  MPI_Comm child = MPI_COMM_NULL;
  // colour = the group's first rank, key = rank here: ranks keep their order in the new group.
  TRIDENT_MPI_CHECK(MPI_Comm_split(comm_, ranks.front(), rank_, &child));
  auto free_child = [&child] {
    if (child != MPI_COMM_NULL) MPI_Comm_free(&child);
  };
  int child_size = 0;
  std::vector<int> members;  // (rank here, global rank) of every member of the new group
  try {
    TRIDENT_MPI_CHECK(MPI_Comm_set_errhandler(child, MPI_ERRORS_RETURN));
    TRIDENT_MPI_CHECK(MPI_Comm_size(child, &child_size));
    int mine[2] = {rank_, global_rank()};
    members.resize(2 * child_size);
    TRIDENT_MPI_CHECK(MPI_Allgather(mine, 2, MPI_INT, members.data(), 2, MPI_INT, child));
  } catch (...) {
    free_child();
    throw;
  }
  std::vector<int> got, global;
  for (int i = 0; i < child_size; ++i) {
    got.push_back(members[2 * i]);
    global.push_back(members[2 * i + 1]);
  }
  if (got != ranks) {
    free_child();
    fail(
        "split of '{}' into '{}': this rank passed ranks [{}], but the ranks that named {} first formed "
        "[{}]; "
        "every rank of a partition must pass the same list",
        name_, name, fmt::join(ranks, ","), ranks.front(), fmt::join(got, ","));
  }
  return std::make_unique<MpiCommunicator>(child, name, std::move(global), watchdog_, options_);
}

}  // namespace trident::comm
