// LocalCommunicator (the world of a run without mpirun), the CommLog and the watchdog, in one process.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <string>

#include "core/comm/bootstrap.h"
#include "core/comm/comm_log.h"
#include "core/comm/local_communicator.h"
#include "core/comm/watchdog.h"
#include "tests/unit/test_util.h"

namespace trident::comm {
namespace {

using test::error_of;

Tensor iota(int64_t n, DType dtype = DType::f32) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 50);
  return Tensor::from_vector(v, {n}, dtype);
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.numel(), b.numel());
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.item(i), b.item(i)) << "element " << i;
}

TEST(LocalComm, IsAGroupOfOne) {
  LocalCommunicator c;
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.size(), 1);
  EXPECT_EQ(c.global_rank(), 0);
  EXPECT_EQ(c.name(), "world");
}

TEST(LocalComm, CollectivesAreCopiesOrNoOps) {
  LocalCommunicator c;
  for (DType dtype : {DType::f32, DType::f64, DType::bf16, DType::i32, DType::u16, DType::u32}) {
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg, ReduceOp::max}) {
      Tensor t = iota(7, dtype);
      c.all_reduce(t, op);
      expect_same(t, iota(7, dtype));
      Tensor out = Tensor::zeros({7}, dtype);
      c.reduce_scatter(out, iota(7, dtype), op);
      expect_same(out, iota(7, dtype));
    }
    Tensor out = Tensor::zeros({9}, dtype);
    c.all_gather(out, iota(9, dtype));
    expect_same(out, iota(9, dtype));
    Tensor b = iota(5, dtype);
    c.broadcast(b, 0);
    expect_same(b, iota(5, dtype));
    Tensor a2a = Tensor::zeros({6}, dtype);
    c.all_to_all(a2a, iota(6, dtype));
    expect_same(a2a, iota(6, dtype));
    Tensor v = Tensor::zeros({10}, dtype);
    c.all_to_allv_async(v, {10}, iota(10, dtype), {10})->wait();
    expect_same(v, iota(10, dtype));
  }
  c.barrier();
  auto w = c.barrier_async();
  EXPECT_TRUE(w->test());
  EXPECT_EQ(c.log().collectives(), 6u * (3 * 2 + 4) + 2);
  EXPECT_FALSE(c.log().oldest_pending().has_value());
  EXPECT_EQ(c.log().last_completed()->op, "barrier");
}

TEST(LocalComm, TotalsCountCallsElementsAndBytesPerOp) {
  LocalCommunicator c;
  Tensor a = iota(6);
  c.all_reduce(a, ReduceOp::sum);
  Tensor h = iota(10, DType::bf16);
  c.all_reduce(h, ReduceOp::avg);
  Tensor rs = Tensor::zeros({4});
  c.reduce_scatter(rs, iota(4), ReduceOp::sum);
  Tensor ag = Tensor::zeros({3}, DType::f64);
  c.all_gather(ag, iota(3, DType::f64));
  c.barrier();

  const Communicator& base = c;  // reachable through the interface
  std::map<std::string, OpTotals> t = base.log().totals();
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t["all_reduce"].calls, 2);
  EXPECT_EQ(t["all_reduce"].elements, 6 + 10);
  EXPECT_EQ(t["all_reduce"].bytes, 6 * 4 + 10 * 2);
  EXPECT_EQ(t["reduce_scatter"].calls, 1);
  EXPECT_EQ(t["reduce_scatter"].elements, 4);
  EXPECT_EQ(t["reduce_scatter"].bytes, 16);
  EXPECT_EQ(t["all_gather"].elements, 3);
  EXPECT_EQ(t["all_gather"].bytes, 24);
  EXPECT_EQ(t["barrier"].calls, 1);
  EXPECT_EQ(t["barrier"].elements, 0) << "an op without a buffer counts its call only";
  EXPECT_EQ(t["barrier"].bytes, 0);

  c.log().reset_totals();  // the watchdog's records are not touched
  EXPECT_TRUE(c.log().totals().empty());
  EXPECT_EQ(c.log().collectives(), 5u);
  c.all_reduce(a, ReduceOp::max);
  EXPECT_EQ(c.log().totals().at("all_reduce").calls, 1);
  EXPECT_EQ(c.log().totals().at("all_reduce").bytes, 24);
}

TEST(LocalComm, ShapeChecksMatchTheMpiCommunicator) {
  LocalCommunicator c("dp[0]");
  Tensor out = Tensor::zeros({5});
  EXPECT_NE(error_of([&] {
              c.all_gather(out, iota(4));
            }).find("all_gather on 'dp[0]': out has 5 elements, expected size (1) x in (4) = 4"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { c.reduce_scatter(out, iota(4), ReduceOp::sum); }).find("reduce_scatter on 'dp[0]'"),
      std::string::npos);
  Tensor t = iota(3);
  EXPECT_NE(error_of([&] { c.broadcast(t, 1); }).find("root 1 is not a rank"), std::string::npos);
  EXPECT_NE(error_of([&] { c.send(t, 0); }).find("send on 'dp[0]': peer 0 is not another rank"),
            std::string::npos);
  EXPECT_NE(error_of([&] { c.recv(t, 1); }).find("recv on 'dp[0]'"), std::string::npos);
  Tensor v = Tensor::zeros({4});
  EXPECT_NE(error_of([&] { c.all_to_allv_async(v, {5}, iota(5), {5}); }).find("recv_counts add up to 5"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              c.all_to_allv_async(v, {4, 0}, iota(4), {4});
            }).find("one per rank"),
            std::string::npos);
  Tensor i32 = Tensor::zeros({4}, DType::i32);
  EXPECT_NE(error_of([&] { c.all_gather(i32, iota(4)); }).find("out is i32 but in is f32"),
            std::string::npos);
}

TEST(LocalComm, SplitGivesANamedGroupOfOne) {
  LocalCommunicator c;
  auto sub = c.split({0}, "tp[0]");
  EXPECT_EQ(sub->name(), "tp[0]");
  EXPECT_EQ(sub->size(), 1);
  EXPECT_NE(error_of([&] { c.split({1}, "x"); }).find("include this rank"), std::string::npos);
}

TEST(CommBootstrap, PlainRunNeverStartsMpi) {
  if (launched_under_mpi()) GTEST_SKIP() << "running under mpirun";
  Runtime runtime;
  EXPECT_FALSE(runtime.mpi());
  auto w = runtime.world();
  EXPECT_EQ(w->size(), 1);
  EXPECT_EQ(w->name(), "world");
  EXPECT_NE(dynamic_cast<LocalCommunicator*>(w.get()), nullptr);
  EXPECT_NE(error_of([] { Runtime second; }).find("only one"), std::string::npos);
}

TEST(CommLog, RecordsSequenceNumbersAndPendingOps) {
  CommLog log("dp[1,3]", 3, {1, 3});
  uint64_t a = log.begin(true, "all_reduce", DType::f32, 4096, "sum");
  uint64_t s = log.begin(false, "send", DType::bf16, 8, "to rank 0, tag 0");
  uint64_t b = log.begin(true, "barrier", DType::f32, -1);
  EXPECT_EQ(log.record(a).seq, 1u);
  EXPECT_EQ(log.record(s).seq, 1u);  // point-to-point ops count on their own
  EXPECT_EQ(log.record(b).seq, 2u);
  EXPECT_EQ(log.record(a).what(), "all_reduce f32 x 4096 (sum)");
  EXPECT_EQ(log.record(s).label(), "p2p #1");
  EXPECT_EQ(log.record(b).what(), "barrier");
  log.end(b);  // out of order: a is still the oldest pending
  EXPECT_EQ(log.oldest_pending()->op, "all_reduce");
  log.end(a);
  log.end(s);
  EXPECT_FALSE(log.oldest_pending().has_value());
  EXPECT_EQ(log.last_completed()->seq, 2u);
  EXPECT_EQ(log.collectives(), 2u);
  const std::map<std::string, OpTotals> t = log.totals();  // counted when begun, point-to-point ops too
  EXPECT_EQ(t.at("send").calls, 1);
  EXPECT_EQ(t.at("send").bytes, 16);
  EXPECT_EQ(t.at("all_reduce").elements, 4096);
  EXPECT_EQ(t.at("barrier").elements, 0);
  EXPECT_EQ(ranks_str({0, 1, 2, 3}), "0..3");
  EXPECT_EQ(ranks_str({1, 3}), "1,3");
}

TEST(Watchdog, NamesTheOpPastItsTimeout) {
  Watchdog dog(
      2.0, [](const std::string&) {}, std::chrono::milliseconds(100), /*start_thread=*/false);
  auto log = std::make_shared<CommLog>("world", 1, std::vector<int>{0, 1});
  dog.watch(log);
  for (int i = 0; i < 4; ++i) log->end(log->begin(true, "all_reduce", DType::f32, 1024, "sum"));
  uint64_t t = log->begin(true, "all_reduce", DType::f32, 1024, "sum");
  const auto now = Clock::now();
  EXPECT_FALSE(dog.check(now).has_value());
  auto msg = dog.check(now + std::chrono::seconds(3));
  ASSERT_TRUE(msg.has_value());
  EXPECT_NE(
      msg->find("trident: error: [rank 1] collective #5 all_reduce on group 'world' (f32 x 1024, sum) did "
                "not complete within 2.0 s; ranks that did not reach it"),
      std::string::npos)
      << *msg;
  EXPECT_NE(msg->find("global ranks 0,1"), std::string::npos) << *msg;
  EXPECT_NE(msg->find("#4 all_reduce"), std::string::npos) << *msg;
  log->end(t);
  EXPECT_FALSE(dog.check(now + std::chrono::seconds(3)).has_value());
  log.reset();  // a log whose communicator is gone drops out
  EXPECT_FALSE(dog.check(now + std::chrono::seconds(3)).has_value());
}

TEST(Watchdog, ThreadReportsAHangOnce) {
  std::promise<std::string> fired;
  int calls = 0;
  Watchdog dog(
      0.2,
      [&](const std::string& m) {
        if (calls++ == 0) fired.set_value(m);
      },
      std::chrono::milliseconds(20));
  auto log = std::make_shared<CommLog>("pp[0,4]", 4, std::vector<int>{0, 4});
  dog.watch(log);
  log->begin(false, "recv", DType::bf16, 16, "from rank 0, tag 0");
  auto f = fired.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_NE(
      f.get().find("[rank 4] point-to-point p2p #1 recv on group 'pp[0,4]' (bf16 x 16, from rank 0, tag 0)"),
      std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace trident::comm
