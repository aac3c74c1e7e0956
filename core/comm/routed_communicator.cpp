#include "core/comm/routed_communicator.h"

#include <fmt/format.h>

namespace trident::comm {

namespace {

// The backend's handle; completion ends the op's record in the group's log.
class RoutedWork final : public Work {
 public:
  RoutedWork(WorkPtr inner, std::shared_ptr<CommLog> log, uint64_t ticket)
      : inner_(std::move(inner)), log_(std::move(log)), ticket_(ticket) {}
  ~RoutedWork() override {
    inner_.reset();  // its destructor waits for the op
    if (!done_) log_->end(ticket_);
  }
  void wait() override {
    if (done_) return;
    try {
      inner_->wait();
    } catch (...) {
      finish();
      throw;
    }
    finish();
  }
  bool test() override {
    if (done_) return true;
    bool complete = false;
    try {
      complete = inner_->test();
    } catch (...) {
      finish();
      throw;
    }
    if (complete) finish();
    return complete;
  }

 private:
  void finish() {
    done_ = true;
    log_->end(ticket_);
  }
  WorkPtr inner_;
  std::shared_ptr<CommLog> log_;
  uint64_t ticket_;
  bool done_ = false;
};

}  // namespace

bool routes_to_device(std::initializer_list<const Tensor*> tensors, bool reduce) {
  if (tensors.size() == 0) return false;
  for (const Tensor* t : tensors) {
    if (!t->device().is_cuda()) return false;
    if (reduce && t->dtype() == DType::u16) return false;
  }
  return true;
}

std::string RoutedCommunicator::device_name(const std::string& group) {
  return group + " (nccl)";
}

RoutedCommunicator::RoutedCommunicator(std::unique_ptr<Communicator> host,
                                       std::unique_ptr<Communicator> device, bool p2p_on_device)
    : host_(std::move(host)), device_(std::move(device)), p2p_on_device_(p2p_on_device) {
  TRIDENT_CHECK(host_ && device_, "a routed communicator needs both a host and a device backend");
  const std::vector<int>& ranks = host_->log().global_ranks();
  TRIDENT_CHECK(
      device_->log().global_ranks() == ranks && device_->rank() == host_->rank(),
      "'{}': the device backend '{}' spans world ranks [{}] as rank {}, the host one [{}] as rank {}",
      host_->name(), device_->name(), ranks_str(device_->log().global_ranks()), device_->rank(),
      ranks_str(ranks), host_->rank());
  log_ = std::make_shared<CommLog>(host_->name(), host_->global_rank(), ranks);
}

template <typename Launch>
WorkPtr RoutedCommunicator::route(const char* op, std::initializer_list<const Tensor*> tensors, bool reduce,
                                  std::string extra, Launch&& launch, bool allowed) {
  const bool to_device = allowed && routes_to_device(tensors, reduce);
  if (!to_device) device_->flush();  // a peer may need this rank's held-back device messages first
  const bool collective = std::string_view(op) != "send" && std::string_view(op) != "recv";
  const Tensor* first = tensors.size() ? *tensors.begin() : nullptr;
  const uint64_t ticket = log_->begin(collective, op, first ? first->dtype() : DType::f32,
                                      first ? first->numel() : -1, std::move(extra));
  WorkPtr inner;
  try {
    inner = launch(to_device ? *device_ : *host_);
  } catch (...) {
    log_->end(ticket);
    throw;
  }
  return std::make_unique<RoutedWork>(std::move(inner), log_, ticket);
}

WorkPtr RoutedCommunicator::all_reduce_async(Tensor& t, ReduceOp op) {
  return route("all_reduce", {&t}, true, reduce_op_name(op),
               [&](Communicator& c) { return c.all_reduce_async(t, op); });
}

WorkPtr RoutedCommunicator::reduce_scatter_async(Tensor& out, const Tensor& in, ReduceOp op) {
  return route("reduce_scatter", {&in, &out}, true, reduce_op_name(op),
               [&](Communicator& c) { return c.reduce_scatter_async(out, in, op); });
}

WorkPtr RoutedCommunicator::all_gather_async(Tensor& out, const Tensor& in) {
  return route("all_gather", {&in, &out}, false, "",
               [&](Communicator& c) { return c.all_gather_async(out, in); });
}

WorkPtr RoutedCommunicator::broadcast_async(Tensor& t, int root) {
  return route("broadcast", {&t}, false, fmt::format("root {}", root),
               [&](Communicator& c) { return c.broadcast_async(t, root); });
}

// A send and its recv must take the same backend: both ranks' tensors are on their devices (and the group
// sends on the device), or both on the host (the pipeline's boundary buffers live where the model does;
// checkpoint gathering uses host tensors).
WorkPtr RoutedCommunicator::send_async(const Tensor& t, int peer, int tag) {
  return route(
      "send", {&t}, false, fmt::format("to rank {}, tag {}", peer, tag),
      [&](Communicator& c) { return c.send_async(t, peer, tag); }, p2p_on_device_);
}

WorkPtr RoutedCommunicator::recv_async(Tensor& t, int peer, int tag) {
  return route(
      "recv", {&t}, false, fmt::format("from rank {}, tag {}", peer, tag),
      [&](Communicator& c) { return c.recv_async(t, peer, tag); }, p2p_on_device_);
}

WorkPtr RoutedCommunicator::all_to_all_async(Tensor& out, const Tensor& in) {
  return route("all_to_all", {&in, &out}, false, "",
               [&](Communicator& c) { return c.all_to_all_async(out, in); });
}

WorkPtr RoutedCommunicator::all_to_allv_async(Tensor& out, const std::vector<int64_t>& recv_counts,
                                              const Tensor& in, const std::vector<int64_t>& send_counts) {
  return route("all_to_allv", {&in, &out}, false, "",
               [&](Communicator& c) { return c.all_to_allv_async(out, recv_counts, in, send_counts); });
}

// A barrier is host-side agreement: through the host backend, after the device's held-back messages.
WorkPtr RoutedCommunicator::barrier_async() {
  return route("barrier", {}, false, "", [&](Communicator& c) { return c.barrier_async(); });
}

std::unique_ptr<Communicator> RoutedCommunicator::split(const std::vector<int>& ranks,
                                                        const std::string& name) {
  std::unique_ptr<Communicator> host = host_->split(ranks, name);
  std::unique_ptr<Communicator> device = device_->split(ranks, device_name(name));
  return std::make_unique<RoutedCommunicator>(std::move(host), std::move(device), p2p_on_device_);
}

}  // namespace trident::comm
