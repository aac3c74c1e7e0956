#include "core/comm/local_communicator.h"

#include "core/comm/comm_checks.h"

namespace trident::comm {
namespace {

class DoneWork final : public Work {
 public:
  void wait() override {}
  bool test() override { return true; }
};

}  // namespace

LocalCommunicator::LocalCommunicator(std::string name, bool log_info)
    : name_(std::move(name)),
      log_info_(log_info),
      log_(std::make_shared<CommLog>(name_, 0, std::vector<int>{0}, log_info)) {}

WorkPtr LocalCommunicator::noop(const char* op, DType dtype, int64_t count, std::string extra) {
  log_->end(log_->begin(true, op, dtype, count, std::move(extra)));
  return std::make_unique<DoneWork>();
}

WorkPtr LocalCommunicator::copy(const char* op, Tensor& out, const Tensor& in, std::string extra) {
  uint64_t ticket = log_->begin(true, op, in.dtype(), in.numel(), std::move(extra));
  if (out.raw() != in.raw()) out.copy_from(in);  // host or device: a device copy runs on the compute stream
  log_->end(ticket);
  return std::make_unique<DoneWork>();
}

// One rank: sum, avg (sum / 1) and max of a single contribution are the contribution itself.
WorkPtr LocalCommunicator::all_reduce_async(Tensor& t, ReduceOp op) {
  checks::all_reduce(*this, t);
  return noop("all_reduce", t.dtype(), t.numel(), reduce_op_name(op));
}

WorkPtr LocalCommunicator::reduce_scatter_async(Tensor& out, const Tensor& in, ReduceOp op) {
  checks::reduce_scatter(*this, out, in);
  return copy("reduce_scatter", out, in, reduce_op_name(op));
}

WorkPtr LocalCommunicator::all_gather_async(Tensor& out, const Tensor& in) {
  checks::all_gather(*this, out, in);
  return copy("all_gather", out, in);
}

WorkPtr LocalCommunicator::broadcast_async(Tensor& t, int root) {
  checks::broadcast(*this, t, root);
  return noop("broadcast", t.dtype(), t.numel(), "root 0");
}

// A group of one has no peer: these checks always fail, with the op and group named.
WorkPtr LocalCommunicator::send_async(const Tensor& t, int peer, int /*tag*/) {
  checks::peer(*this, "send", t, peer);
  return std::make_unique<DoneWork>();
}

WorkPtr LocalCommunicator::recv_async(Tensor& t, int peer, int /*tag*/) {
  checks::peer(*this, "recv", t, peer);
  return std::make_unique<DoneWork>();
}

WorkPtr LocalCommunicator::all_to_all_async(Tensor& out, const Tensor& in) {
  checks::all_to_all(*this, out, in);
  return copy("all_to_all", out, in);
}

WorkPtr LocalCommunicator::all_to_allv_async(Tensor& out, const std::vector<int64_t>& recv_counts,
                                             const Tensor& in, const std::vector<int64_t>& send_counts) {
  checks::all_to_allv(*this, out, recv_counts, in, send_counts);
  return copy("all_to_allv", out, in);
}

WorkPtr LocalCommunicator::barrier_async() {
  return noop("barrier", DType::f32, -1);
}

std::unique_ptr<Communicator> LocalCommunicator::split(const std::vector<int>& ranks,
                                                       const std::string& name) {
  checks::split(*this, ranks);
  log_->end(log_->begin(true, "split", DType::f32, -1, name));
  return std::make_unique<LocalCommunicator>(name, log_info_);
}

}  // namespace trident::comm
