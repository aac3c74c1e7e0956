// Communicators on device memory, against values every rank computes locally: NcclCommunicator, and
// MpiCommunicator staging device buffers through pinned host memory. Every op, f32 / bf16 / i32, uneven
// counts and sub-groups; the training groups' RoutedCommunicator (comm.backend nccl) and a few training
// steps under nccl against mpi. Runs under mpirun (gpu.nccl.np1, gpu.nccl.np2) with the multi-rank main;
// every test skips, saying why, without a GPU, and the NCCL ones also when the ranks outnumber the GPUs (NCCL
// needs a GPU per rank), so np2 on a one-GPU machine runs only the MPI-with-device-buffer tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "core/comm/bootstrap.h"
#include "core/comm/mpi_communicator.h"
#include "core/comm/nccl_communicator.h"
#include "core/comm/routed_communicator.h"
#include "core/config/config.h"
#include "core/runtime/devices.h"
#include "tests/multirank/multirank.h"
#include "train/parallel_model.h"
#include "train/validate.h"

namespace trident::test {
namespace {

using comm::Communicator;
using comm::ReduceOp;

// The NCCL world, made on first use (collectively: every rank reaches it in the same test) and destroyed
// after the last test, while MPI and CUDA are still up.
class NcclWorld : public ::testing::Environment {
 public:
  Communicator* get(std::string* why_not) {
    if (!tried_) {
      tried_ = true;
      create();
    }
    if (!comm_) *why_not = why_not_;
    return comm_.get();
  }
  void TearDown() override { comm_.reset(); }

 private:
  void create() {
    std::string why;
    const auto devices = cuda_devices(&why);
    if (devices.empty()) {
      why_not_ = "no CUDA device: " + why;
    } else if (world().size() > static_cast<int>(devices.size())) {
      why_not_ = fmt::format("NCCL needs a GPU per rank: {} ranks share {} GPU(s) here", world().size(),
                             devices.size());
    } else {
      comm_ = comm::make_nccl_world(world(), comm::local_device());
    }
  }

  bool tried_ = false;
  std::string why_not_;
  std::unique_ptr<Communicator> comm_;
};

NcclWorld* const g_nccl = static_cast<NcclWorld*>(::testing::AddGlobalTestEnvironment(new NcclWorld));

Tensor to_device(const Tensor& h, int device) {
  Tensor d = Tensor::empty(h.shape(), h.dtype(), Device::cuda(device));
  d.copy_from(h);
  return d;
}

Tensor to_host(const Tensor& d) {
  Tensor h = Tensor::empty(d.shape(), d.dtype());
  h.copy_from(d);
  return h;
}

const std::vector<DType>& gpu_dtypes() {
  static const std::vector<DType> d{DType::f32, DType::bf16, DType::i32};
  return d;
}

// Parameter: "nccl" (NcclCommunicator) or "mpi" (MpiCommunicator, device buffers staged). Tensors live on
// this rank's GPU.
class DeviceComm : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda_devices(&why).empty()) GTEST_SKIP() << "no CUDA device: " << why;
    device_ = comm::local_device();
    if (nccl()) {
      comm_ = g_nccl->get(&why);
      if (comm_ == nullptr) GTEST_SKIP() << why;
    } else {
      comm_ = &world();
    }
  }

  bool nccl() const { return GetParam() == "nccl"; }
  Communicator& c() { return *comm_; }
  Tensor dev(DType dtype, int64_t n, const std::function<double(int64_t)>& f) {
    return to_device(make(dtype, n, f), device_);
  }
  Tensor dev_zeros(int64_t n, DType dtype) { return Tensor::zeros({n}, dtype, Device::cuda(device_)); }

  // NCCL's avg pre-multiplies floats by 1 / size, so it may differ from sum / size in the last bits.
  void expect_value(DType dtype, ReduceOp op, double got, double want, const std::string& what) {
    if (nccl() && op == ReduceOp::avg && is_float(dtype)) {
      const double rel = dtype == DType::bf16 ? 1e-2 : 1e-5;
      EXPECT_NEAR(got, want, rel * std::max(1.0, std::abs(want))) << what;
    } else {
      EXPECT_VALUE(dtype, got, want, what);
    }
  }

  int device_ = 0;
  Communicator* comm_ = nullptr;
};

TEST_P(DeviceComm, AllReduceEveryDtypeAndOp) {
  for (DType dtype : gpu_dtypes()) {
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg, ReduceOp::max}) {
      for (int64_t n : {1, 7, 1001}) {
        Tensor t = dev(dtype, n, [&](int64_t i) { return value(c().rank(), i); });
        c().all_reduce(t, op);
        Tensor h = to_host(t);
        for (int64_t i = 0; i < n; ++i) {
          double want = reduce(op, dtype, c().size(), [&](int q) { return value(q, i); });
          expect_value(dtype, op, h.item(i), want,
                       fmt::format("{} {} n={} i={}", dtype_name(dtype), comm::reduce_op_name(op), n, i));
        }
      }
    }
  }
}

TEST_P(DeviceComm, ReduceScatterEveryDtypeAndOp) {
  const int64_t n = 5;  // odd block
  for (DType dtype : gpu_dtypes()) {
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg, ReduceOp::max}) {
      Tensor in = dev(dtype, c().size() * n, [&](int64_t i) { return value(c().rank(), i); });
      Tensor out = dev_zeros(n, dtype);
      c().reduce_scatter(out, in, op);
      Tensor h = to_host(out);
      for (int64_t j = 0; j < n; ++j) {
        double want = reduce(op, dtype, c().size(), [&](int q) { return value(q, c().rank() * n + j); });
        expect_value(dtype, op, h.item(j), want,
                     fmt::format("{} {} j={}", dtype_name(dtype), comm::reduce_op_name(op), j));
      }
    }
  }
}

TEST_P(DeviceComm, AllGatherEveryDtype) {
  for (DType dtype : gpu_dtypes()) {
    for (int64_t n : {1, 9}) {
      Tensor in = dev(dtype, n, [&](int64_t i) { return value(c().rank(), i); });
      Tensor out = dev_zeros(c().size() * n, dtype);
      c().all_gather(out, in);
      Tensor h = to_host(out);
      for (int q = 0; q < c().size(); ++q) {
        for (int64_t j = 0; j < n; ++j)
          EXPECT_EQ(h.item(q * n + j), value(q, j)) << dtype_name(dtype) << " block " << q << " j=" << j;
      }
    }
  }
}

TEST_P(DeviceComm, BroadcastFromEveryRoot) {
  for (DType dtype : gpu_dtypes()) {
    for (int root = 0; root < c().size(); ++root) {
      Tensor t = dev(dtype, 13, [&](int64_t i) { return value(c().rank(), i); });
      c().broadcast(t, root);
      Tensor h = to_host(t);
      for (int64_t i = 0; i < 13; ++i)
        EXPECT_EQ(h.item(i), value(root, i)) << dtype_name(dtype) << " root " << root;
    }
  }
}

TEST_P(DeviceComm, SendRecvRing) {
  if (c().size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const int r = c().rank(), p = c().size();
  const int next = (r + 1) % p, prev = (r + p - 1) % p;
  for (DType dtype : gpu_dtypes()) {
    // Two messages of different sizes, in order (NCCL matches by order, not tag). Even ranks send first and
    // odd ranks receive first, so a stream that runs its ops in order never waits on itself.
    Tensor a = dev(dtype, 11, [&](int64_t i) { return value(r, i); });
    Tensor b = dev(dtype, 6, [&](int64_t i) { return value(r, i + 100); });
    Tensor ra = dev_zeros(11, dtype), rb = dev_zeros(6, dtype);
    std::vector<comm::WorkPtr> works;
    auto sends = [&] {
      works.push_back(c().send_async(a, next, 1));
      works.push_back(c().send_async(b, next, 2));
    };
    auto recvs = [&] {
      works.push_back(c().recv_async(ra, prev, 1));
      works.push_back(c().recv_async(rb, prev, 2));
    };
    if (r % 2 == 0) {
      sends();
      recvs();
    } else {
      recvs();
      sends();
    }
    for (auto it = works.rbegin(); it != works.rend(); ++it) (*it)->wait();
    Tensor ha = to_host(ra), hb = to_host(rb);
    for (int64_t i = 0; i < 11; ++i) EXPECT_EQ(ha.item(i), value(prev, i)) << dtype_name(dtype);
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(hb.item(i), value(prev, i + 100)) << dtype_name(dtype);
  }
}

TEST_P(DeviceComm, AllToAllEveryDtype) {
  const int64_t n = 3;
  for (DType dtype : gpu_dtypes()) {
    Tensor in = dev(dtype, c().size() * n, [&](int64_t i) { return value(c().rank(), i); });
    Tensor out = dev_zeros(c().size() * n, dtype);
    c().all_to_all(out, in);
    Tensor h = to_host(out);
    for (int q = 0; q < c().size(); ++q) {
      for (int64_t k = 0; k < n; ++k)
        EXPECT_EQ(h.item(q * n + k), value(q, c().rank() * n + k)) << dtype_name(dtype) << " from " << q;
    }
  }
}

TEST_P(DeviceComm, AllToAllvUnevenCounts) {
  const int r = c().rank(), p = c().size();
  auto element = [](int src, int dst, int64_t k) {
    return static_cast<double>((src * 5 + dst * 3 + k) % 97);
  };
  const std::vector<std::function<int64_t(int, int)>> counts{
      [](int src, int) { return int64_t{7} * src + 3; },
      [](int src, int dst) { return int64_t{(7 * src + 3 * dst + 3) % 11}; },  // some pairs send nothing
  };
  for (DType dtype : gpu_dtypes()) {
    for (const auto& count : counts) {
      std::vector<int64_t> send_counts(p), recv_counts(p);
      std::vector<float> in_values;
      for (int q = 0; q < p; ++q) {
        send_counts[q] = count(r, q);
        recv_counts[q] = count(q, r);
        for (int64_t k = 0; k < send_counts[q]; ++k)
          in_values.push_back(static_cast<float>(element(r, q, k)));
      }
      const int64_t total_out = std::accumulate(recv_counts.begin(), recv_counts.end(), int64_t{0});
      Tensor in =
          to_device(Tensor::from_vector(in_values, {static_cast<int64_t>(in_values.size())}, dtype), device_);
      Tensor out = dev_zeros(total_out, dtype);
      c().all_to_allv_async(out, recv_counts, in, send_counts)->wait();
      Tensor h = to_host(out);
      int64_t at = 0;
      for (int src = 0; src < p; ++src) {
        for (int64_t k = 0; k < recv_counts[src]; ++k, ++at)
          EXPECT_EQ(h.item(at), element(src, r, k)) << dtype_name(dtype) << " from " << src << " k=" << k;
      }
    }
  }
}

TEST_P(DeviceComm, BarrierAndTest) {
  for (int i = 0; i < 3; ++i) c().barrier();
  auto work = c().barrier_async();
  while (!work->test()) {
  }
  EXPECT_TRUE(work->test());
  work->wait();  // waiting on a completed op is a no-op
}

TEST_P(DeviceComm, ManyOpsInFlightWaitedOutOfOrder) {
  std::vector<Tensor> ts;
  std::vector<comm::WorkPtr> works;
  for (int k = 0; k < 6; ++k) {
    ts.push_back(dev(DType::f32, 257 + k, [&](int64_t i) { return value(c().rank(), i + k); }));
    works.push_back(c().all_reduce_async(ts.back(), ReduceOp::sum));
  }
  for (int k = 5; k >= 0; --k) works[k]->wait();
  for (int k = 0; k < 6; ++k) {
    Tensor h = to_host(ts[k]);
    for (int64_t i = 0; i < h.numel(); i += 37) {
      double want = 0;
      for (int q = 0; q < c().size(); ++q) want += value(q, i + k);
      EXPECT_EQ(h.item(i), want) << "op " << k << " i=" << i;
    }
  }
}

TEST_P(DeviceComm, SplitEvenAndOdd) {
  const int r = c().rank();
  std::vector<int> mine;
  for (int q = r % 2; q < c().size(); q += 2) mine.push_back(q);
  const std::string name = fmt::format("{}[{}]", r % 2 ? "odd" : "even", fmt::join(mine, ","));
  auto sub = c().split(mine, name);
  ASSERT_EQ(sub->size(), static_cast<int>(mine.size()));
  EXPECT_EQ(sub->name(), name);
  EXPECT_EQ(sub->rank(), r / 2);
  EXPECT_EQ(sub->global_rank(), c().global_rank());
  for (DType dtype : gpu_dtypes()) {
    Tensor t = dev(dtype, 9, [&](int64_t i) { return value(r, i); });
    sub->all_reduce(t, ReduceOp::sum);
    Tensor h = to_host(t);
    for (int64_t i = 0; i < 9; ++i) {
      double want = 0;
      for (int q : mine) want += value(q, i);
      EXPECT_EQ(h.item(i), want) << dtype_name(dtype);
    }
  }
  // The parent still works, with sub-group ops in flight at the same time.
  Tensor g = dev_zeros(sub->size() * 2, DType::f32);
  auto gather = sub->all_gather_async(g, dev(DType::f32, 2, [&](int64_t i) { return value(r, i); }));
  Tensor x = to_device(Tensor::full({3}, 1.0), device_);
  c().all_reduce(x, ReduceOp::sum);
  gather->wait();
  EXPECT_EQ(x.item(0), c().size());
  Tensor hg = to_host(g);
  for (size_t q = 0; q < mine.size(); ++q) EXPECT_EQ(hg.item(2 * q + 1), value(mine[q], 1));
}

TEST_P(DeviceComm, OpsAreRecordedAndCompleted) {
  const comm::CommLog* log = nullptr;
  if (auto* n = dynamic_cast<comm::NcclCommunicator*>(&c())) log = &n->log();
  if (auto* m = dynamic_cast<comm::MpiCommunicator*>(&c())) log = &m->log();
  ASSERT_NE(log, nullptr);
  const uint64_t before = log->collectives();
  Tensor t = dev(DType::f32, 4, [](int64_t) { return 1.0; });
  auto work = c().all_reduce_async(t, ReduceOp::sum);
  EXPECT_EQ(log->collectives(), before + 1);
  work->wait();
  EXPECT_FALSE(log->oldest_pending().has_value());
  ASSERT_TRUE(log->last_completed().has_value());
  EXPECT_EQ(log->last_completed()->what(), "all_reduce f32 x 4 (sum)");
}

INSTANTIATE_TEST_SUITE_P(Gpu, DeviceComm, ::testing::Values("nccl", "mpi"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// What only NCCL refuses.
class NcclOnly : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda_devices(&why).empty()) GTEST_SKIP() << "no CUDA device: " << why;
    comm_ = g_nccl->get(&why);
    if (comm_ == nullptr) GTEST_SKIP() << why;
  }
  Communicator* comm_ = nullptr;
};

TEST_F(NcclOnly, CpuTensorsAreRefused) {
  Tensor t = Tensor::zeros({4});
  std::string err = error_of([&] { comm_->all_reduce(t, ReduceOp::sum); });
  EXPECT_NE(err.find("all_reduce on 'world': t is a cpu tensor, but NCCL works on device memory"),
            std::string::npos)
      << err;
  comm_->barrier();  // nothing was posted: the ranks are still in step
}

TEST_F(NcclOnly, U16IsMovedButNotReduced) {
  const int device = comm::local_device();
  Tensor t = to_device(make(DType::u16, 5, [](int64_t i) { return 40000.0 + i; }), device);
  std::string err = error_of([&] { comm_->all_reduce(t, ReduceOp::sum); });
  EXPECT_NE(err.find("NCCL has no u16 type to reduce"), std::string::npos) << err;
  Tensor out = Tensor::zeros({5 * comm_->size()}, DType::u16, Device::cuda(device));
  comm_->all_gather(out, t);
  Tensor h = to_host(out);
  for (int64_t i = 0; i < h.numel(); ++i) EXPECT_EQ(h.item(i), 40000.0 + i % 5);
}

// Every rank sends before it receives, as a pipeline's stages do (activations one way, gradients the other),
// with messages far larger than NCCL's buffers: ungrouped, each send would wait on a recv queued behind the
// peer's own send. NcclCommunicator holds them back and posts them as one group when one is waited.
TEST_P(DeviceComm, EveryRankSendsBeforeItReceives) {
  if (c().size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const int r = c().rank(), p = c().size();
  const int next = (r + 1) % p, prev = (r + p - 1) % p;
  const int64_t n = int64_t{1} << 22;  // 16 MiB of f32
  Tensor mine = dev(DType::f32, n, [&](int64_t i) { return value(r, i % 1000); });
  Tensor got = dev_zeros(n, DType::f32);
  comm::WorkPtr send = c().send_async(mine, next, 3);
  comm::WorkPtr recv = c().recv_async(got, prev, 3);
  recv->wait();
  send->wait();
  Tensor h = to_host(got);
  for (int64_t i = 0; i < n; i += 4099) EXPECT_EQ(h.item(i), value(prev, i % 1000)) << i;
}

// A training group under comm.backend nccl: comm::make_group's RoutedCommunicator, over every rank.
class RoutedGroup : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda_devices(&why).empty()) GTEST_SKIP() << "no CUDA device: " << why;
    if (g_nccl->get(&why) == nullptr) GTEST_SKIP() << why;
    device_ = comm::local_device();
    std::vector<int> all(world().size());
    std::iota(all.begin(), all.end(), 0);
    group_ = comm::make_group(world(), all, "routed", comm::Backend::nccl, Device::cuda(device_));
    routed_ = dynamic_cast<comm::RoutedCommunicator*>(group_.get());
    ASSERT_NE(routed_, nullptr);
  }
  // Collectives each backend has run so far.
  std::pair<uint64_t, uint64_t> counts() const {
    return {routed_->device().log().collectives(), routed_->host().log().collectives()};
  }

  int device_ = 0;
  std::unique_ptr<Communicator> group_;
  comm::RoutedCommunicator* routed_ = nullptr;
};

TEST_F(RoutedGroup, DeviceTensorsTakeNcclAndHostTensorsMpi) {
  Communicator& g = *group_;
  const int p = g.size(), r = g.rank();
  EXPECT_EQ(routed_->device().name(), "routed (nccl)");
  Tensor d = to_device(make(DType::f32, 9, [&](int64_t i) { return value(r, i); }), device_);
  g.all_reduce(d, ReduceOp::sum);
  Tensor hd = to_host(d);
  for (int64_t i = 0; i < 9; ++i)
    EXPECT_EQ(hd.item(i), reduce(ReduceOp::sum, DType::f32, p, [&](int q) { return value(q, i); }));
  EXPECT_EQ(counts(), std::make_pair(uint64_t{1}, uint64_t{0})) << "a device tensor: NCCL";

  Tensor loss = Tensor::full({1}, 1.0 + r, DType::f64);  // the step's loss, a host scalar
  g.all_reduce(loss, ReduceOp::avg);
  EXPECT_DOUBLE_EQ(loss.item(0), (p + 1) / 2.0);
  EXPECT_EQ(counts(), std::make_pair(uint64_t{1}, uint64_t{1})) << "a host tensor: MPI";

  // u16 on the device: NCCL moves it but cannot reduce it, so the reduction goes to MPI (staged).
  Tensor ids = to_device(make(DType::u16, 4, [&](int64_t i) { return 100.0 * r + i; }), device_);
  g.all_reduce(ids, ReduceOp::max);
  Tensor hi = to_host(ids);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(hi.item(i), 100.0 * (p - 1) + i);
  EXPECT_EQ(counts(), std::make_pair(uint64_t{1}, uint64_t{2}));

  // Host input, device output: mixed, so MPI (which stages the device side).
  Tensor out = Tensor::zeros({2 * p}, DType::f32, Device::cuda(device_));
  g.all_gather(out, make(DType::f32, 2, [&](int64_t i) { return value(r, i); }));
  Tensor ho = to_host(out);
  for (int q = 0; q < p; ++q)
    for (int64_t i = 0; i < 2; ++i) EXPECT_EQ(ho.item(2 * q + i), value(q, i));
  g.barrier();
  EXPECT_EQ(counts(), std::make_pair(uint64_t{1}, uint64_t{4})) << "mixed tensors and barriers: MPI";
  EXPECT_EQ(g.log().collectives(), 5u) << "the group's own log: every op";

  // The pipeline's embedding group: a split of both backends (ncclCommSplit on the device side).
  std::unique_ptr<Communicator> self = g.split({r}, "routed.self");
  Tensor x = to_device(make(DType::f32, 3, [&](int64_t i) { return value(r, i); }), device_);
  self->all_reduce(x, ReduceOp::sum);
  Tensor hx = to_host(x);
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(hx.item(i), value(r, i));
}

// Device sends held back by NCCL are posted before the group's next host op: rank r sends to r + 1 and then
// every rank joins a host all-reduce, which rank r + 1 reaches only after its recv completed.
TEST_F(RoutedGroup, HeldBackSendsArePostedBeforeAHostOp) {
  Communicator& g = *group_;
  if (g.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const int r = g.rank(), p = g.size();
  Tensor mine = to_device(make(DType::f32, 5, [&](int64_t i) { return value(r, i); }), device_);
  Tensor got = Tensor::zeros({5}, DType::f32, Device::cuda(device_));
  comm::WorkPtr send = g.send_async(mine, (r + 1) % p, 0);
  Tensor host = Tensor::full({1}, 1.0, DType::f64);
  if (r != 0) g.recv(got, (r + p - 1) % p, 0);  // rank 0 receives after the host op
  g.all_reduce(host, ReduceOp::sum);
  if (r == 0) g.recv(got, p - 1, 0);
  send->wait();
  EXPECT_DOUBLE_EQ(host.item(0), p);
  Tensor h = to_host(got);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(h.item(i), value((r + p - 1) % p, i));
}

// Training under comm.backend nccl against comm.backend mpi (device buffers staged through the host), on
// this rank's GPU: data parallelism over every rank, and on two or more ranks a pipeline over them (tied
// embeddings: the embedding group is an ncclCommSplit). Three steps each; the loss and gradient norm of
// every step agree to fp32 rounding (two-rank sums are exact in either order; the tolerance allows for the
// reduction order of more ranks).
TEST(NcclTraining, StepsMatchTheMpiBackend) {
  std::string why;
  if (cuda_devices(&why).empty()) GTEST_SKIP() << "no CUDA device: " << why;
  if (g_nccl->get(&why) == nullptr) GTEST_SKIP() << why;
  const int n = world().size();
  std::vector<std::vector<std::string>> layouts{{"parallel.data=" + std::to_string(n)}};
  if (n > 1)
    layouts.push_back({"parallel.data=1", "parallel.pipeline=" + std::to_string(n), "train.schedule=1f1b"});
  if (n == 2)  // the interleaved schedule's sends stay on MPI (tests/unit/test_p2p_order.cpp)
    layouts.push_back({"parallel.data=1", "parallel.pipeline=2", "parallel.virtual_stages=2",
                       "train.schedule=interleaved_1f1b"});
  for (const auto& layout : layouts) {
    SCOPED_TRACE(layout.back());
    std::vector<std::pair<double, double>> runs[2];
    for (int b = 0; b < 2; ++b) {
      config::Config cfg = load_config(std::string(TRIDENT_SOURCE_DIR) + "/configs/gpt2_tiny.pbtxt");
      std::vector<std::string> o{"runtime.device=cuda", "train.seq_len=32", "train.micro_batch_size=2",
                                 "train.global_batch_size=" + std::to_string(8 * n),
                                 std::string("comm.backend=") + (b == 0 ? "nccl" : "mpi")};
      o.insert(o.end(), layout.begin(), layout.end());
      apply_overrides(cfg, o);
      resolve(cfg, n);
      validate(cfg, n);
      ParallelModel model(cfg, world());
      ASSERT_EQ(model.backend(), b == 0 ? comm::Backend::nccl : comm::Backend::mpi);
      const int dp_rank = model.dp().rank();
      const auto batch = [&](int micro, Tensor& tokens, Tensor& targets) {
        tokens = Tensor::empty({2, 32}, DType::i32);
        targets = Tensor::empty({2, 32}, DType::i32);
        for (int64_t i = 0; i < 64; ++i) {
          tokens.data<int32_t>()[i] = static_cast<int32_t>((7 * i + 3 * micro + 11 * dp_rank) % 257);
          targets.data<int32_t>()[i] = static_cast<int32_t>((5 * i + micro + dp_rank) % 257);
        }
      };
      for (int step = 0; step < 3; ++step) {
        const ParallelModel::StepResult r = model.train_step(1e-3, batch);
        runs[b].emplace_back(r.loss, r.grad_norm);
      }
    }
    for (int step = 0; step < 3; ++step) {
      const auto [loss, norm] = runs[0][step];
      const auto [want_loss, want_norm] = runs[1][step];
      EXPECT_NEAR(loss, want_loss, 1e-5 * std::abs(want_loss)) << "step " << step;
      EXPECT_NEAR(norm, want_norm, 1e-5 * std::abs(want_norm)) << "step " << step;
    }
    EXPECT_LT(runs[0][2].first, runs[0][0].first) << "it trains";
  }
}

// Device tensors outside the communicators: copies, conversion, fill and reads.
TEST(DeviceTensor, CopiesConvertsFillsAndReads) {
  std::string why;
  if (cuda_devices(&why).empty()) GTEST_SKIP() << "no CUDA device: " << why;
  const Device d = Device::cuda(comm::local_device());
  Tensor h = make(DType::f32, 10, [](int64_t i) { return 0.5 * i; });
  Tensor x = to_device(h, d.index);
  EXPECT_EQ(x.device(), d);
  EXPECT_EQ(x.item(3), 1.5);
  Tensor y = x.clone();  // device to device
  EXPECT_NE(y.raw(), x.raw());
  EXPECT_EQ(to_host(y).to_vector(), h.to_vector());
  Tensor b = x.to(DType::bf16);  // converted on the device
  EXPECT_EQ(b.device(), d);
  EXPECT_EQ(b.item(9), 4.5);
  Tensor z = Tensor::zeros({10}, DType::i32, d);
  EXPECT_EQ(z.item(7), 0);
  z.fill(-3);
  EXPECT_EQ(z.to_vector(), std::vector<float>(10, -3.0f));
  z.narrow0(2, 4).copy_from(
      make(DType::i32, 2, [](int64_t i) { return 10.0 + i; }));  // host to a device view
  EXPECT_EQ(z.item(1), -3);
  EXPECT_EQ(z.item(2), 10);
  EXPECT_EQ(z.item(3), 11);
  EXPECT_EQ(Tensor::empty({0}, DType::f32, d).numel(), 0);
}

}  // namespace
}  // namespace trident::test
