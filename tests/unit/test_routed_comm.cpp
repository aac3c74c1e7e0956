// RoutedCommunicator on CPU: host tensors take the host backend, the device backend is flushed before each
// of them, and the group's own log records every op whichever backend ran it. (Device tensors taking the NCCL
// side is checked on a GPU: tests/gpu/test_nccl.cpp.)
#include <gtest/gtest.h>

#include "core/comm/local_communicator.h"
#include "core/comm/routed_communicator.h"
#include "tests/unit/forwarding_comm.h"
#include "tests/unit/test_util.h"

namespace trident {
namespace {

// A one-rank communicator that counts flushes: stands in for the NCCL side.
class CountingComm final : public test::ForwardingComm {
 public:
  explicit CountingComm(const std::string& name) : ForwardingComm(name) {}
  int flushes = 0;
  void flush() override { ++flushes; }
  std::unique_ptr<comm::Communicator> split(const std::vector<int>&, const std::string& name) override {
    return std::make_unique<CountingComm>(name);
  }
};

Tensor iota(int64_t n, double start) {
  Tensor t = Tensor::empty({n}, DType::f32);
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(start + static_cast<double>(i));
  return t;
}

TEST(RoutedComm, HostTensorsTakeTheHostBackendAfterAFlush) {
  auto host = std::make_unique<comm::LocalCommunicator>("dp[0]");
  auto device = std::make_unique<CountingComm>(comm::RoutedCommunicator::device_name("dp[0]"));
  comm::LocalCommunicator* h = host.get();
  CountingComm* d = device.get();
  comm::RoutedCommunicator g(std::move(host), std::move(device));
  EXPECT_EQ(g.name(), "dp[0]");
  EXPECT_EQ(d->name(), "dp[0] (nccl)");
  EXPECT_EQ(g.size(), 1);

  Tensor t = iota(3, 1);
  g.all_reduce(t, comm::ReduceOp::sum);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{1, 2, 3}));
  Tensor out = Tensor::zeros({3}, DType::f32);
  g.all_gather(out, iota(3, 5));
  EXPECT_EQ(out.to_vector(), (std::vector<float>{5, 6, 7}));
  g.reduce_scatter(out, iota(3, 8), comm::ReduceOp::sum);
  EXPECT_EQ(out.to_vector(), (std::vector<float>{8, 9, 10}));
  g.broadcast(out, 0);
  g.all_to_all(out, iota(3, 2));
  EXPECT_EQ(out.to_vector(), (std::vector<float>{2, 3, 4}));
  g.all_to_allv_async(out, {3}, iota(3, 4), {3})->wait();
  EXPECT_EQ(out.to_vector(), (std::vector<float>{4, 5, 6}));
  g.barrier();

  EXPECT_EQ(h->log().collectives(), 7u) << "every op went to the host backend";
  EXPECT_EQ(d->log().collectives(), 0u);
  EXPECT_EQ(d->flushes, 7) << "the device side is flushed before each host op";
  EXPECT_EQ(g.log().collectives(), 7u) << "the group's own log sees every op";
  EXPECT_FALSE(g.log().oldest_pending().has_value());
  const auto totals = g.log().totals();
  EXPECT_EQ(totals.at("all_reduce").calls, 1);
  EXPECT_EQ(totals.at("all_reduce").bytes, 12);
  EXPECT_EQ(totals.at("all_to_allv").calls, 1);
  EXPECT_EQ(g.log().last_completed()->op, "barrier");

  g.flush();
  EXPECT_EQ(d->flushes, 8);
}

TEST(RoutedComm, SplitSplitsBothBackends) {
  comm::RoutedCommunicator g(std::make_unique<comm::LocalCommunicator>("pp[0]"),
                             std::make_unique<CountingComm>("pp[0] (nccl)"));
  std::unique_ptr<comm::Communicator> child = g.split({0}, "pp[0].embedding");
  auto* routed = dynamic_cast<comm::RoutedCommunicator*>(child.get());
  ASSERT_NE(routed, nullptr);
  EXPECT_EQ(routed->name(), "pp[0].embedding");
  EXPECT_EQ(routed->host().name(), "pp[0].embedding");
  EXPECT_EQ(routed->device().name(), "pp[0].embedding (nccl)");
  Tensor t = iota(2, 3);
  routed->all_reduce(t, comm::ReduceOp::max);
  EXPECT_EQ(t.to_vector(), (std::vector<float>{3, 4}));
  EXPECT_EQ(routed->host().log().collectives(), 1u);
}

TEST(RoutedComm, OnlyDeviceTensorsRouteToTheDevice) {
  const Tensor a = iota(2, 0);
  EXPECT_FALSE(comm::routes_to_device({&a}, false));
  EXPECT_FALSE(comm::routes_to_device({}, false)) << "a barrier is host-side agreement";
  const Tensor ids = Tensor::zeros({2}, DType::u16);
  EXPECT_FALSE(comm::routes_to_device({&ids}, true));
}

}  // namespace
}  // namespace trident
