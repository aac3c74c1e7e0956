// Every op of the MPI communicator, every dtype, against values each rank computes locally.
#include <algorithm>
#include <numeric>

#include "core/comm/mpi_communicator.h"
#include "tests/multirank/multirank.h"

namespace trident::test {
namespace {

using comm::ReduceOp;

TEST(Multirank, WorldRankAndSize) {
  auto& w = world();
  EXPECT_EQ(w.name(), "world");
  EXPECT_GE(w.size(), 1);
  EXPECT_EQ(w.global_rank(), w.rank());
}

TEST(Multirank, AllReduceEveryDtypeAndOp) {
  auto& w = world();
  for (DType dtype : all_dtypes()) {
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg, ReduceOp::max}) {
      for (int64_t n : {1, 7, 1001}) {
        Tensor t = make(dtype, n, [&](int64_t i) { return value(w.rank(), i); });
        w.all_reduce(t, op);
        for (int64_t i = 0; i < n; ++i) {
          double want = reduce(op, dtype, w.size(), [&](int q) { return value(q, i); });
          EXPECT_VALUE(dtype, t.item(i), want,
                       dtype_name(dtype) << " " << comm::reduce_op_name(op) << " n=" << n << " i=" << i);
        }
      }
    }
  }
}

TEST(Multirank, ReduceScatterEveryDtypeAndOp) {
  auto& w = world();
  const int64_t n = 5;  // odd block
  for (DType dtype : all_dtypes()) {
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg, ReduceOp::max}) {
      Tensor in = make(dtype, w.size() * n, [&](int64_t i) { return value(w.rank(), i); });
      Tensor out = Tensor::zeros({n}, dtype);
      w.reduce_scatter(out, in, op);
      for (int64_t j = 0; j < n; ++j) {
        double want = reduce(op, dtype, w.size(), [&](int q) { return value(q, w.rank() * n + j); });
        EXPECT_VALUE(dtype, out.item(j), want,
                     dtype_name(dtype) << " " << comm::reduce_op_name(op) << " j=" << j);
      }
    }
  }
}

TEST(Multirank, AllGatherEveryDtype) {
  auto& w = world();
  for (DType dtype : all_dtypes()) {
    for (int64_t n : {1, 9}) {
      Tensor in = make(dtype, n, [&](int64_t i) { return value(w.rank(), i); });
      Tensor out = Tensor::zeros({w.size() * n}, dtype);
      w.all_gather(out, in);
      for (int q = 0; q < w.size(); ++q) {
        for (int64_t j = 0; j < n; ++j) {
          EXPECT_EQ(out.item(q * n + j), value(q, j)) << dtype_name(dtype) << " block " << q << " j=" << j;
        }
      }
    }
  }
}

TEST(Multirank, BroadcastFromEveryRoot) {
  auto& w = world();
  for (DType dtype : all_dtypes()) {
    for (int root = 0; root < w.size(); ++root) {
      Tensor t = make(dtype, 13, [&](int64_t i) { return value(w.rank(), i); });
      w.broadcast(t, root);
      for (int64_t i = 0; i < 13; ++i)
        EXPECT_EQ(t.item(i), value(root, i)) << dtype_name(dtype) << " root " << root;
    }
  }
}

TEST(Multirank, SendRecvRing) {
  auto& w = world();
  if (w.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const int next = (w.rank() + 1) % w.size(), prev = (w.rank() + w.size() - 1) % w.size();
  for (DType dtype : {DType::f32, DType::bf16, DType::i32, DType::u16}) {
    // Two messages with different tags, received in the opposite order from the one they were sent in.
    Tensor a = make(dtype, 11, [&](int64_t i) { return value(w.rank(), i); });
    Tensor b = make(dtype, 6, [&](int64_t i) { return value(w.rank(), i + 100); });
    Tensor ra = Tensor::zeros({11}, dtype), rb = Tensor::zeros({6}, dtype);
    auto rb_work = w.recv_async(rb, prev, 2);
    auto ra_work = w.recv_async(ra, prev, 1);
    auto sa = w.send_async(a, next, 1);
    auto sb = w.send_async(b, next, 2);
    ra_work->wait();
    rb_work->wait();
    sb->wait();
    sa->wait();
    for (int64_t i = 0; i < 11; ++i) EXPECT_EQ(ra.item(i), value(prev, i)) << dtype_name(dtype);
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(rb.item(i), value(prev, i + 100)) << dtype_name(dtype);
  }
}

TEST(Multirank, RecvOfTheWrongSizeIsReported) {
  auto& w = world();
  if (w.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  if (w.rank() == 0) {
    w.send(Tensor::zeros({4}), 1, 7);
  } else if (w.rank() == 1) {
    Tensor t = Tensor::zeros({5});
    std::string err = error_of([&] { w.recv(t, 0, 7); });
    EXPECT_NE(err.find("recv on 'world' from rank 0: got 4 elements, expected 5"), std::string::npos) << err;
  }
  w.barrier();
}

TEST(Multirank, AllToAllEveryDtype) {
  auto& w = world();
  const int64_t n = 3;
  for (DType dtype : all_dtypes()) {
    // Block j of rank r's input goes to rank j.
    Tensor in = make(dtype, w.size() * n, [&](int64_t i) { return value(w.rank(), i); });
    Tensor out = Tensor::zeros({w.size() * n}, dtype);
    w.all_to_all(out, in);
    for (int q = 0; q < w.size(); ++q) {
      for (int64_t k = 0; k < n; ++k) {
        EXPECT_EQ(out.item(q * n + k), value(q, w.rank() * n + k)) << dtype_name(dtype) << " from " << q;
      }
    }
  }
}

// Uneven all-to-all: count(src, dst) elements from src to dst (zero for some pairs), element k of that
// message a function of (src, dst, k).
void all_to_allv_case(DType dtype, const std::function<int64_t(int, int)>& count) {
  auto& w = world();
  const int r = w.rank(), p = w.size();
  auto element = [](int src, int dst, int64_t k) {
    return static_cast<double>((src * 5 + dst * 3 + k) % 97);
  };
  std::vector<int64_t> send_counts(p), recv_counts(p);
  for (int q = 0; q < p; ++q) {
    send_counts[q] = count(r, q);
    recv_counts[q] = count(q, r);
  }
  std::vector<float> in_values;
  for (int dst = 0; dst < p; ++dst) {
    for (int64_t k = 0; k < send_counts[dst]; ++k)
      in_values.push_back(static_cast<float>(element(r, dst, k)));
  }
  const int64_t total_in = static_cast<int64_t>(in_values.size());
  const int64_t total_out = std::accumulate(recv_counts.begin(), recv_counts.end(), int64_t{0});
  Tensor in = Tensor::from_vector(in_values, {total_in}, dtype);
  Tensor out = Tensor::zeros({total_out}, dtype);
  w.all_to_allv_async(out, recv_counts, in, send_counts)->wait();
  int64_t at = 0;
  for (int src = 0; src < p; ++src) {
    for (int64_t k = 0; k < recv_counts[src]; ++k, ++at) {
      EXPECT_EQ(out.item(at), element(src, r, k)) << dtype_name(dtype) << " from " << src << " k=" << k;
    }
  }
}

TEST(Multirank, AllToAllvUnevenCounts) {
  for (DType dtype : {DType::f32, DType::bf16, DType::i32, DType::u32}) {
    all_to_allv_case(dtype, [](int src, int /*dst*/) { return int64_t{7} * src + 3; });
    all_to_allv_case(dtype, [](int src, int dst) { return int64_t{(7 * src + 3 * dst + 3) % 11}; });
  }
}

TEST(Multirank, AllToAllvCountsMustMatchTheTensors) {
  auto& w = world();
  std::vector<int64_t> counts(w.size(), 2);
  Tensor in = Tensor::zeros({2 * w.size() + 1}), out = Tensor::zeros({2 * w.size()});
  std::string err = error_of([&] { w.all_to_allv_async(out, counts, in, counts); });
  EXPECT_NE(err.find("all_to_allv on 'world': send_counts add up to"), std::string::npos) << err;
}

TEST(Multirank, Barrier) {
  auto& w = world();
  for (int i = 0; i < 5; ++i) w.barrier();
  auto work = w.barrier_async();
  while (!work->test()) {
  }
  EXPECT_TRUE(work->test());
  work->wait();  // waiting on a completed op is a no-op
}

TEST(Multirank, ShapeMistakesNameTheGroup) {
  auto& w = world();
  Tensor in = Tensor::zeros({4}), out = Tensor::zeros({4 * w.size() + 1});
  std::string err = error_of([&] { w.all_gather(out, in); });
  EXPECT_NE(err.find("all_gather on 'world': out has"), std::string::npos) << err;
  Tensor t = Tensor::zeros({3});
  err = error_of([&] { w.broadcast(t, w.size()); });
  EXPECT_NE(err.find("root"), std::string::npos) << err;
  Tensor bad = Tensor::zeros({3}, DType::i32);
  err = error_of([&] { w.reduce_scatter(bad, Tensor::zeros({3 * w.size()}), ReduceOp::sum); });
  EXPECT_NE(err.find("out is i32 but in is f32"), std::string::npos) << err;
}

TEST(Multirank, SplitEvenAndOdd) {
  auto& w = world();
  std::vector<int> mine;
  for (int q = w.rank() % 2; q < w.size(); q += 2) mine.push_back(q);
  const std::string name = fmt::format("{}[{}]", w.rank() % 2 ? "odd" : "even", fmt::join(mine, ","));
  auto sub = w.split(mine, name);
  ASSERT_EQ(sub->size(), static_cast<int>(mine.size()));
  EXPECT_EQ(sub->name(), name);
  EXPECT_EQ(sub->rank(), w.rank() / 2);
  EXPECT_EQ(sub->global_rank(), w.global_rank());
  for (DType dtype : {DType::f32, DType::bf16, DType::i32}) {
    Tensor t = make(dtype, 9, [&](int64_t i) { return value(w.rank(), i); });
    sub->all_reduce(t, ReduceOp::sum);
    for (int64_t i = 0; i < 9; ++i) {
      double want = 0;
      for (int q : mine) want += value(q, i);
      EXPECT_EQ(t.item(i), want) << dtype_name(dtype);
    }
  }
  // The parent still works, with sub-group ops interleaved.
  Tensor g = Tensor::zeros({sub->size() * 2});
  sub->all_gather(g, make(DType::f32, 2, [&](int64_t i) { return value(w.rank(), i); }));
  Tensor x = Tensor::full({3}, 1.0);
  w.all_reduce(x, ReduceOp::sum);
  EXPECT_EQ(x.item(0), w.size());
  for (size_t q = 0; q < mine.size(); ++q) EXPECT_EQ(g.item(2 * q + 1), value(mine[q], 1));
}

TEST(Multirank, SplitPairs) {
  auto& w = world();
  const int first = w.rank() - w.rank() % 2;
  std::vector<int> pair{first};
  if (first + 1 < w.size()) pair.push_back(first + 1);
  auto sub = w.split(pair, fmt::format("pair[{}]", fmt::join(pair, ",")));
  ASSERT_EQ(sub->size(), static_cast<int>(pair.size()));
  Tensor out = Tensor::zeros({sub->size() * 4}, DType::bf16);
  sub->all_gather(out, make(DType::bf16, 4, [&](int64_t i) { return value(w.rank(), i); }));
  for (size_t q = 0; q < pair.size(); ++q) {
    for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(out.item(q * 4 + i), value(pair[q], i));
  }
  if (sub->size() == 2) {  // exchange with the partner
    Tensor mine = make(DType::i32, 5, [&](int64_t i) { return value(w.rank(), i); });
    Tensor theirs = Tensor::zeros({5}, DType::i32);
    const int peer = 1 - sub->rank();
    auto r = sub->recv_async(theirs, peer);
    sub->send(mine, peer);
    r->wait();
    for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(theirs.item(i), value(pair[peer], i));
  }
  // A split of a split: every rank alone.
  auto single = sub->split({sub->rank()}, fmt::format("self[{}]", w.rank()));
  EXPECT_EQ(single->size(), 1);
  Tensor t = Tensor::full({2}, 5.0);
  single->all_reduce(t, ReduceOp::avg);
  EXPECT_EQ(t.item(1), 5.0);
}

TEST(Multirank, SplitRejectsRanksWithoutThisRank) {
  auto& w = world();
  if (w.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  std::string err = error_of([&] { w.split({(w.rank() + 1) % w.size()}, "other"); });
  EXPECT_NE(err.find("include this rank"), std::string::npos) << err;
}

TEST(Multirank, AsyncOverlapWaitInReverseOrder) {
  auto& w = world();
  const int r = w.rank(), p = w.size();
  Tensor a = make(DType::f32, 1000, [&](int64_t i) { return value(r, i); });
  Tensor b_in = make(DType::bf16, 6, [&](int64_t i) { return value(r, i); });
  Tensor b_out = Tensor::zeros({6 * p}, DType::bf16);
  Tensor c = make(DType::i32, 17, [&](int64_t i) { return value(r, i); });
  Tensor d_in = make(DType::f32, 4 * p, [&](int64_t i) { return value(r, i); });
  Tensor d_out = Tensor::zeros({4});
  std::vector<comm::WorkPtr> works;
  works.push_back(w.all_reduce_async(a, ReduceOp::sum));
  works.push_back(w.all_gather_async(b_out, b_in));
  works.push_back(w.broadcast_async(c, p - 1));
  works.push_back(w.reduce_scatter_async(d_out, d_in, ReduceOp::max));
  works.push_back(w.barrier_async());
  // Work that does not touch the buffers in flight.
  double busy = 0;
  for (int i = 0; i < 200000; ++i) busy += std::sqrt(static_cast<double>(i));
  EXPECT_GT(busy, 0);
  for (auto it = works.rbegin(); it != works.rend(); ++it) (*it)->wait();
  for (int64_t i = 0; i < 1000; ++i) {
    double want = 0;
    for (int q = 0; q < p; ++q) want += value(q, i);
    EXPECT_EQ(a.item(i), want);
  }
  for (int q = 0; q < p; ++q) EXPECT_EQ(b_out.item(q * 6 + 5), value(q, 5));
  for (int64_t i = 0; i < 17; ++i) EXPECT_EQ(c.item(i), value(p - 1, i));
  for (int64_t j = 0; j < 4; ++j) {
    double want = 0;
    for (int q = 0; q < p; ++q) want = std::max(want, value(q, r * 4 + j));
    EXPECT_EQ(d_out.item(j), want);
  }
}

TEST(Multirank, WorkOutlivesTheCallersTensor) {
  auto& w = world();
  comm::WorkPtr work;
  std::weak_ptr<Storage> storage;
  {
    Tensor t = Tensor::full({64}, 1.0);
    storage = t.storage();
    work = w.all_reduce_async(t, ReduceOp::sum);
  }  // the caller's tensor is gone; the Work keeps its storage alive until MPI is done with it
  ASSERT_FALSE(storage.expired()) << "the pending all_reduce does not hold its buffer";
  work->wait();
  // The reduction landed in that storage, and the storage is freed with the Work (no leak).
  {
    const Tensor result = Tensor::view_of(storage.lock(), 0, {64}, DType::f32);
    for (int64_t i = 0; i < 64; ++i) ASSERT_EQ(result.item(i), w.size()) << "element " << i;
  }
  work.reset();
  EXPECT_TRUE(storage.expired()) << "the finished Work still holds its buffer";
}

TEST(Multirank, LogCountsCollectivesPerCommunicator) {
  auto* mpi = dynamic_cast<comm::MpiCommunicator*>(&world());
  if (!mpi) GTEST_SKIP() << "not under mpirun";
  const uint64_t before = mpi->log().collectives();
  Tensor t = Tensor::full({4}, 1.0);
  world().all_reduce(t, ReduceOp::sum);
  world().barrier();
  EXPECT_EQ(mpi->log().collectives(), before + 2);
  auto last = mpi->log().last_completed();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->op, "barrier");
  EXPECT_EQ(last->seq, before + 2);
  EXPECT_FALSE(mpi->log().oldest_pending().has_value());
}

TEST(Multirank, VerifyModeAcceptsMatchingSequences) {
  auto* mpi = dynamic_cast<comm::MpiCommunicator*>(&world());
  if (!mpi) GTEST_SKIP() << "not under mpirun";
  MPI_Comm dup;
  ASSERT_EQ(MPI_Comm_dup(mpi->handle(), &dup), MPI_SUCCESS);
  std::vector<int> ranks(world().size());
  std::iota(ranks.begin(), ranks.end(), 0);
  comm::MpiCommunicator v(dup, "verified", ranks, nullptr, {.verify_sequence = true});
  Tensor t = make(DType::f32, 10, [&](int64_t i) { return value(v.rank(), i); });
  v.all_reduce(t, ReduceOp::max);
  v.broadcast(t, 0);
  std::vector<int64_t> counts(v.size());
  for (int q = 0; q < v.size(); ++q) counts[q] = v.rank() + q;  // counts differ between ranks: still agree
  std::vector<int64_t> recv(v.size());
  for (int q = 0; q < v.size(); ++q) recv[q] = q + v.rank();
  Tensor in = Tensor::zeros({std::accumulate(counts.begin(), counts.end(), int64_t{0})});
  Tensor out = Tensor::zeros({std::accumulate(recv.begin(), recv.end(), int64_t{0})});
  v.all_to_allv_async(out, recv, in, counts)->wait();
  auto sub = v.split({v.rank()}, "alone");
  v.barrier();
  EXPECT_EQ(v.log().collectives(), 5u);
}

}  // namespace
}  // namespace trident::test
