// The watchdog's roll call in one process: which ranks the report names and why, the group keys ranks use
// to agree on a group, what a rank answers about itself, and the watchdog asking through a stand-in for the
// MPI side channel (tests/multirank/roll_call_tests.cmake runs the real one under mpirun).
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/comm/comm_log.h"
#include "core/comm/roll_call.h"
#include "core/comm/watchdog.h"

namespace trident::comm {
namespace {

RollAnswer answered(int rank, uint64_t last_started, bool knows_group = true) {
  Progress p;
  p.knows_group = knows_group;
  p.last_started = last_started;
  p.now = "is in no communication op now";
  return {rank, "node-b", p};
}

RollAnswer silent(int rank, std::string host = "node-b") {
  return {rank, std::move(host), std::nullopt};
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RollCall, NamesRanksBehindSilentOrWithoutTheGroup) {
  // #5 timed out. Rank 1 started it, rank 2 went on to #6, rank 3 is behind, 4 and 6 are silent, 5 freed it.
  const std::vector<RollAnswer> answers = {answered(1, 5),      answered(2, 6), answered(3, 4),
                                           silent(6, "node-c"), silent(4),      answered(5, 9, false)};
  EXPECT_EQ(never_entered(5, answers), (std::vector<int>{3, 4, 5, 6}));
  const std::string r = roll_call_report("world", {0, 1, 2, 3, 4, 5, 6}, 5, answers, 2.0);
  EXPECT_TRUE(r.starts_with("ranks that never entered it: 3, 4, 5, 6. ")) << r;
  EXPECT_TRUE(has(r, "rank 4 (host node-b), rank 6 (host node-c) did not answer within 2.0 s")) << r;
  EXPECT_TRUE(has(r, "rank 3 (host node-b) last started #4 on 'world' and is in no communication op now"))
      << r;
  EXPECT_TRUE(has(r, "rank 5 (host node-b) has no communicator for 'world'")) << r;
  EXPECT_FALSE(has(r, "rank 1 ")) << r;
  EXPECT_FALSE(has(r, "rank 2 ")) << r;
}

TEST(RollCall, SilentRanksOfOneHostReadAsOneEntry) {
  const std::string r = roll_call_report("dp[0..3]", {0, 1, 2, 3}, 7, {silent(1), silent(2), silent(3)}, 4.0);
  EXPECT_TRUE(
      r.starts_with("ranks that never entered it: 1, 2, 3. ranks 1..3 (host node-b) did not answer "
                    "within 4.0 s"))
      << r;
}

TEST(RollCall, EveryRankEnteredMeansTheCollectiveItselfIsStuck) {
  const std::string r = roll_call_report("tp[0,1]", {0, 1}, 3, {answered(1, 3)}, 2.0);
  EXPECT_TRUE(
      r.starts_with("ranks that never entered it: none. Every rank of 'tp[0,1]' (global ranks 0,1) "
                    "answered that it started #3"))
      << r;
}

TEST(RollCall, ManyAnsweringRanksAreSummedUp) {
  std::vector<RollAnswer> answers;
  for (int r = 1; r <= 40; ++r) answers.push_back(answered(r, 0));
  const std::string r = roll_call_report("world", {}, 1, answers, 2.0);
  EXPECT_TRUE(has(r, "rank 16 (host node-b) started no collective on 'world' yet")) << r;
  EXPECT_FALSE(has(r, "rank 17 (host")) << r;
  EXPECT_TRUE(has(r, "24 more ranks answered that they have not started #1")) << r;
}

TEST(RollCall, AReportNamingOnlyRanksThatWaitElsewhereIsHeldUp) {
  RollAnswer waits = answered(2, 4);
  waits.progress->waiting = true;
  waits.progress->now = "now waits in #9 all_reduce f32 x 8 (sum) on 'tp[2,3]' (for 2.5 s)";
  EXPECT_TRUE(only_held_up_ranks_missing(5, {answered(1, 5), waits}));
  EXPECT_FALSE(only_held_up_ranks_missing(5, {waits, answered(3, 4)}));  // rank 3 waits in nothing: a cause
  EXPECT_FALSE(only_held_up_ranks_missing(5, {waits, silent(3)}));       // rank 3 is silent: a cause
  EXPECT_FALSE(only_held_up_ranks_missing(5, {answered(1, 5)}));         // nobody missing
  EXPECT_TRUE(has(roll_call_report("world", {}, 5, {waits}, 2.0),
                  "rank 2 (host node-b) last started #4 on 'world' and now waits in #9 all_reduce"));
}

// Records what the watchdog asks and answers as told.
class FakeRollCall final : public RollCall {
 public:
  explicit FakeRollCall(std::vector<RollAnswer> answers, bool fail = false)
      : answers_(std::move(answers)), fail_(fail) {}
  double grace_s() const override { return 1.5; }
  void serve(const ProgressOf&) override {}
  std::vector<RollAnswer> ask(const std::string& key, const std::vector<int>& ranks,
                              const ProgressOf&) override {
    if (fail_) throw std::runtime_error("MPI_Isend failed");
    asked_key = key;
    asked_ranks = ranks;
    return answers_;
  }
  std::string asked_key;
  std::vector<int> asked_ranks;

 private:
  std::vector<RollAnswer> answers_;
  bool fail_;
};

TEST(RollCall, GroupKeysCountCommunicatorsOfTheSameNameAndRanks) {
  Watchdog dog(
      10.0, [](const std::string&) {}, std::chrono::milliseconds(100), /*start_thread=*/false);
  auto a = std::make_shared<CommLog>("world", 0, std::vector<int>{0, 1, 2, 3});
  auto b = std::make_shared<CommLog>("world", 0, std::vector<int>{0, 1, 2, 3});
  auto c = std::make_shared<CommLog>("tp[0,1]", 0, std::vector<int>{0, 1});
  dog.watch(a);
  dog.watch(b);
  dog.watch(c);
  EXPECT_EQ(dog.key(*a), "world|0..3|0");
  EXPECT_EQ(dog.key(*b), "world|0..3|1");
  EXPECT_EQ(dog.key(*c), "tp[0,1]|0,1|0");
  b.reset();  // a freed communicator keeps its number: the next one of that name is the third
  auto d = std::make_shared<CommLog>("world", 0, std::vector<int>{0, 1, 2, 3});
  dog.watch(d);
  EXPECT_EQ(dog.key(*d), "world|0..3|2");
}

TEST(RollCall, ARankAnswersItsLastStartedCollectiveAndWhatItWaitsIn) {
  Watchdog dog(
      10.0, [](const std::string&) {}, std::chrono::milliseconds(100), /*start_thread=*/false);
  auto world = std::make_shared<CommLog>("world", 2, std::vector<int>{0, 1, 2, 3});
  auto tp = std::make_shared<CommLog>("tp[2,3]", 2, std::vector<int>{2, 3});
  dog.watch(world);
  dog.watch(tp);
  for (int i = 0; i < 4; ++i) world->end(world->begin(true, "all_reduce", DType::f32, 8, "sum"));
  Progress idle = dog.progress("world|0..3|0");
  EXPECT_TRUE(idle.knows_group);
  EXPECT_EQ(idle.last_started, 4u);
  EXPECT_EQ(idle.now, "is in no communication op now (it computes, or is blocked outside communication)");
  tp->begin(true, "barrier", DType::f32, -1);
  Progress waiting = dog.progress("world|0..3|0");
  EXPECT_EQ(waiting.last_started, 4u);
  EXPECT_TRUE(waiting.now.starts_with("now waits in #1 barrier on 'tp[2,3]' (for ")) << waiting.now;
  EXPECT_FALSE(dog.progress("world|0..3|1").knows_group);
}

TEST(RollCall, WatchdogAsksTheOtherMembersAndNamesTheMissing) {
  Watchdog dog(
      2.0, [](const std::string&) {}, std::chrono::milliseconds(100), /*start_thread=*/false);
  auto fake = std::make_shared<FakeRollCall>(std::vector<RollAnswer>{answered(0, 5), silent(3)});
  dog.set_roll_call(fake);
  auto log = std::make_shared<CommLog>("dp[0,1,3]", 1, std::vector<int>{0, 1, 3});
  dog.watch(log);
  for (int i = 0; i < 4; ++i) log->end(log->begin(true, "all_reduce", DType::f32, 1024, "sum"));
  log->begin(true, "all_reduce", DType::f32, 1024, "sum");
  const auto now = Clock::now();
  EXPECT_FALSE(dog.check(now).has_value());
  EXPECT_TRUE(fake->asked_ranks.empty());  // nobody is asked before the timeout
  auto msg = dog.check(now + std::chrono::seconds(3));
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(fake->asked_key, "dp[0,1,3]|0,1,3|0");
  EXPECT_EQ(fake->asked_ranks, (std::vector<int>{0, 3}));
  EXPECT_TRUE(
      msg->starts_with("trident: error: [rank 1] collective #5 all_reduce on group 'dp[0,1,3]' (f32 x "
                       "1024, sum) did not complete within 2.0 s; ranks that never entered it: 3. rank "
                       "3 (host node-b) did not answer within 1.5 s"))
      << *msg;
  EXPECT_TRUE(
      msg->ends_with("Last collective completed here on 'dp[0,1,3]': #4 all_reduce f32 x 1024 (sum)."))
      << *msg;
}

// The message of a barrier on 'world' (global ranks 0,1) past its 2 s timeout, with `roll_call`.
std::string barrier_timeout(std::shared_ptr<RollCall> roll_call, const std::string& unavailable) {
  Watchdog dog(
      2.0, [](const std::string&) {}, std::chrono::milliseconds(100), /*start_thread=*/false);
  dog.set_roll_call(std::move(roll_call), unavailable);
  auto log = std::make_shared<CommLog>("world", 0, std::vector<int>{0, 1});
  dog.watch(log);
  log->begin(true, "barrier", DType::f32, -1);
  return dog.check(Clock::now() + std::chrono::seconds(3)).value_or("no report");
}

TEST(RollCall, WithoutARollCallTheMessageSaysWhyNoRankIsNamed) {
  const std::string msg = barrier_timeout(nullptr, "this MPI library runs with MPI_THREAD_SERIALIZED");
  EXPECT_TRUE(has(msg, "some rank of 'world' (global ranks 0,1) is stuck elsewhere")) << msg;
  EXPECT_TRUE(msg.ends_with("(The ranks are not named: this MPI library runs with MPI_THREAD_SERIALIZED.)"))
      << msg;
}

TEST(RollCall, AFailedRollCallFallsBackToTheGroupsMessage) {
  const std::string msg =
      barrier_timeout(std::make_shared<FakeRollCall>(std::vector<RollAnswer>{}, /*fail=*/true), "");
  EXPECT_TRUE(has(msg, "ranks that did not reach it hold it up")) << msg;
  EXPECT_TRUE(has(msg, "(The ranks are not named: asking the other ranks failed: MPI_Isend failed.)")) << msg;
}

}  // namespace
}  // namespace trident::comm
