// RoutedCommunicator over MPI on CPU ranks: a training group's host tensors (loss, metrics, checkpoint
// gathering) go through the host backend with the values MPI gives, point-to-point included, and the
// device backend (here a second MPI communicator standing in for NCCL) sees none of them.
#include <numeric>

#include "core/comm/routed_communicator.h"
#include "tests/multirank/multirank.h"

namespace trident::test {
namespace {

TEST(Multirank, RoutedGroupRunsHostTensorsOnTheHostBackend) {
  auto& w = world();
  std::vector<int> all(w.size());
  std::iota(all.begin(), all.end(), 0);
  comm::RoutedCommunicator g(w.split(all, "routed"),
                             w.split(all, comm::RoutedCommunicator::device_name("routed")));
  ASSERT_EQ(g.size(), w.size());
  ASSERT_EQ(g.rank(), w.rank());

  Tensor loss = Tensor::full({1}, 1.0 + w.rank(), DType::f64);
  g.all_reduce(loss, comm::ReduceOp::avg);
  EXPECT_DOUBLE_EQ(loss.item(0), (w.size() + 1) / 2.0);

  // A ring of host messages, as checkpoint gathering sends them.
  if (w.size() > 1) {
    const int next = (w.rank() + 1) % w.size(), prev = (w.rank() + w.size() - 1) % w.size();
    Tensor mine = make(DType::f32, 5, [&](int64_t i) { return value(w.rank(), i); });
    Tensor got = Tensor::zeros({5}, DType::f32);
    comm::WorkPtr r = g.recv_async(got, prev, 7);
    g.send(mine, next, 7);
    r->wait();
    for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(got.item(i), value(prev, i)) << i;
  }

  // Uneven all-to-all: rank r sends j + 1 elements to rank j, each = 100 r + j.
  std::vector<int64_t> send(w.size()), recv(w.size(), w.rank() + 1);
  for (int j = 0; j < w.size(); ++j) send[j] = j + 1;
  const int64_t out_n = static_cast<int64_t>(w.size()) * (w.rank() + 1);
  Tensor in = Tensor::empty({std::accumulate(send.begin(), send.end(), int64_t{0})}, DType::f32);
  for (int j = 0, off = 0; j < w.size(); off += j + 1, ++j)
    for (int k = 0; k <= j; ++k) in.data<float>()[off + k] = static_cast<float>(100 * w.rank() + j);
  Tensor out = Tensor::zeros({out_n}, DType::f32);
  g.all_to_allv_async(out, recv, in, send)->wait();
  for (int i = 0; i < w.size(); ++i)
    for (int k = 0; k <= w.rank(); ++k)
      EXPECT_EQ(out.item(i * (w.rank() + 1) + k), 100 * i + w.rank()) << "from rank " << i;
  g.barrier();

  const uint64_t ops = 3;  // all_reduce, all_to_allv, barrier (+ the p2p pair on more than one rank)
  EXPECT_EQ(g.host().log().collectives(), ops);
  EXPECT_EQ(g.device().log().collectives(), 0u) << "no device tensors, nothing on the device backend";
  EXPECT_EQ(g.log().collectives(), ops);
  EXPECT_EQ(g.log().totals().at("all_reduce").bytes, 8);
  if (w.size() > 1) {
    EXPECT_EQ(g.log().totals().at("send").calls, 1);
  }

  std::unique_ptr<comm::Communicator> half = g.split({w.rank()}, "routed.self");
  Tensor x = Tensor::full({1}, 3.0, DType::f64);
  half->all_reduce(x, comm::ReduceOp::sum);
  EXPECT_DOUBLE_EQ(x.item(0), 3.0);
  EXPECT_EQ(dynamic_cast<comm::RoutedCommunicator&>(*half).device().name(), "routed.self (nccl)");
}

}  // namespace
}  // namespace trident::test
