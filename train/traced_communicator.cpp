#include "train/traced_communicator.h"

#include <fmt/format.h>

namespace trident {

namespace {

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

class TracedWork final : public comm::Work {
 public:
  TracedWork(comm::WorkPtr inner, uint64_t id, spans::Kind kind, std::string wait_name)
      : inner_(std::move(inner)), id_(id), kind_(kind), wait_name_(std::move(wait_name)) {}
  ~TracedWork() override {
    if (!done_) spans::end_async(id_);  // the inner handle's own destructor waits
  }
  void wait() override {
    if (done_) return;
    {
      spans::Span s(kind_, spans::Phase::none, 0, 0, wait_name_.c_str());
      inner_->wait();
    }
    finish();
  }
  bool test() override {
    if (done_) return true;
    if (!inner_->test()) return false;
    finish();
    return true;
  }

 private:
  void finish() {
    done_ = true;
    spans::end_async(id_);
  }
  comm::WorkPtr inner_;
  uint64_t id_;
  spans::Kind kind_;
  std::string wait_name_;
  bool done_ = false;
};

}  // namespace

spans::Kind comm_kind(const std::string& group, const std::string& op) {
  using spans::Kind;
  if (starts_with(group, "tp")) return Kind::comm_tp;
  if (starts_with(group, "pp")) return Kind::comm_pp;
  if (starts_with(group, "ep") || starts_with(group, "edp")) return Kind::comm_ep;
  if (starts_with(group, "zero_")) return Kind::comm_zero;
  if (starts_with(group, "dp")) return op == "all_reduce" ? Kind::comm_dp : Kind::comm_zero;
  return Kind::comm_dp;
}

TracedCommunicator::TracedCommunicator(std::unique_ptr<comm::Communicator> inner)
    : inner_(std::move(inner)) {}

template <typename Launch>
comm::WorkPtr TracedCommunicator::traced(const char* op, const Tensor* t, Launch&& launch) {
  if (!spans::enabled()) return launch();
  const spans::Kind kind = comm_kind(name(), op);
  const double bytes = t ? static_cast<double>(t->nbytes()) : 0.0;
  const std::string what = t ? fmt::format("{} {} x {}", op, dtype_name(t->dtype()), t->numel()) : op;
  const uint64_t id = spans::begin_async(kind, name(), what, bytes);
  comm::WorkPtr inner;
  {
    spans::Span launching(kind, spans::Phase::none, 0, 0, op);  // a staged copy or a blocking backend
    inner = launch();
  }
  return std::make_unique<TracedWork>(std::move(inner), id, kind, std::string("wait ") + op);
}

comm::WorkPtr TracedCommunicator::all_reduce_async(Tensor& t, comm::ReduceOp op) {
  return traced("all_reduce", &t, [&] { return inner_->all_reduce_async(t, op); });
}
comm::WorkPtr TracedCommunicator::reduce_scatter_async(Tensor& out, const Tensor& in, comm::ReduceOp op) {
  return traced("reduce_scatter", &in, [&] { return inner_->reduce_scatter_async(out, in, op); });
}
comm::WorkPtr TracedCommunicator::all_gather_async(Tensor& out, const Tensor& in) {
  return traced("all_gather", &out, [&] { return inner_->all_gather_async(out, in); });
}
comm::WorkPtr TracedCommunicator::broadcast_async(Tensor& t, int root) {
  return traced("broadcast", &t, [&] { return inner_->broadcast_async(t, root); });
}
comm::WorkPtr TracedCommunicator::send_async(const Tensor& t, int peer, int tag) {
  return traced("send", &t, [&] { return inner_->send_async(t, peer, tag); });
}
comm::WorkPtr TracedCommunicator::recv_async(Tensor& t, int peer, int tag) {
  return traced("recv", &t, [&] { return inner_->recv_async(t, peer, tag); });
}
comm::WorkPtr TracedCommunicator::all_to_all_async(Tensor& out, const Tensor& in) {
  return traced("all_to_all", &in, [&] { return inner_->all_to_all_async(out, in); });
}
comm::WorkPtr TracedCommunicator::all_to_allv_async(Tensor& out, const std::vector<int64_t>& recv_counts,
                                                    const Tensor& in,
                                                    const std::vector<int64_t>& send_counts) {
  return traced("all_to_allv", &in,
                [&] { return inner_->all_to_allv_async(out, recv_counts, in, send_counts); });
}
comm::WorkPtr TracedCommunicator::barrier_async() {
  return traced("barrier", nullptr, [&] { return inner_->barrier_async(); });
}
std::unique_ptr<comm::Communicator> TracedCommunicator::split(const std::vector<int>& ranks,
                                                              const std::string& name) {
  return std::make_unique<TracedCommunicator>(inner_->split(ranks, name));
}

}  // namespace trident
