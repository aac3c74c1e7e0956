// Pipeline schedules as data: every schedule over a sweep of (pp, m, v) is deadlock-free, runs each
// (microbatch, chunk) forward once and backward once, and has the bubble and activation memory the papers
// give; plus golden lists, the simulator's refusal of broken lists, deadlock reports, timelines and Chrome
// traces.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/runtime/error.h"
#include "pipeline/chrome_trace.h"
#include "pipeline/schedule.h"
#include "pipeline/simulator.h"
#include "tests/unit/test_util.h"

namespace trident::pp {

// So that failed comparisons of action lists print readably.
void PrintTo(const Action& a, std::ostream* os) {
  *os << action_str(a) << " (stage " << a.stage << ")";
}

namespace {

using test::error_of;
using K = ActionKind;

const std::vector<ScheduleKind> kKinds = {ScheduleKind::gpipe, ScheduleKind::one_f_one_b,
                                          ScheduleKind::interleaved_1f1b};

struct Case {
  ScheduleKind kind;
  int pp, v, m;
  std::string name() const {
    return std::string(schedule_name(kind)) + " pp " + std::to_string(pp) + " v " + std::to_string(v) +
           " m " + std::to_string(m);
  }
};

// pp in {1, 2, 3, 4, 8}, m in {1, pp - 1, pp, 2 pp, 3 pp + 1}, v in {1, 2}, every valid schedule.
std::vector<Case> sweep() {
  std::vector<Case> cases;
  for (int pp : {1, 2, 3, 4, 8}) {
    std::set<int> ms = {1, pp, 2 * pp, 3 * pp + 1};
    if (pp > 1) ms.insert(pp - 1);
    for (int m : ms) {
      for (int v : {1, 2}) {
        for (ScheduleKind kind : kKinds) {
          if (schedule_problem(kind, pp, v, m).empty()) cases.push_back({kind, pp, v, m});
        }
      }
    }
  }
  return cases;
}

std::vector<std::vector<Action>> all_ranks(ScheduleKind kind, int pp, int v, int m) {
  std::vector<std::vector<Action>> lists;
  for (int r = 0; r < pp; ++r) lists.push_back(schedule_actions(kind, pp, v, m, r));
  return lists;
}

// Megatron's interleaved warmup (forwards before the first backward) on `rank`.
int interleaved_warmup(int pp, int v, int m, int rank) {
  if (v == 1) return std::min(pp - rank - 1, m);
  if (m == pp) return m * v;
  return std::min((pp - rank - 1) * 2 + (v - 1) * pp, m * v);
}

TEST(Schedule, SweepIsDeadlockFreeAndRunsEveryMicrobatchOnce) {
  const std::vector<Case> cases = sweep();
  ASSERT_GT(cases.size(), 50u);
  int interleaved_v2 = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name());
    const SimResult sim = simulate(c.kind, c.pp, c.v, c.m, Costs{});
    ASSERT_FALSE(sim.deadlock) << sim.deadlock_cycle;
    // (rank, microbatch, chunk) -> [forward end, backward start] and how often each ran.
    std::map<std::tuple<int, int, int>, std::pair<double, double>> times;
    std::map<std::tuple<int, int, int>, std::pair<int, int>> runs;
    for (const auto& e : sim.events) {
      const auto key = std::make_tuple(e.rank, e.action.microbatch, e.action.chunk);
      if (e.action.kind == K::forward) {
        ++runs[key].first;
        times[key].first = e.end;
      } else if (e.action.kind == K::backward) {
        ++runs[key].second;
        times[key].second = e.start;
      }
    }
    EXPECT_EQ(runs.size(), static_cast<size_t>(c.pp * c.v * c.m));
    for (const auto& [key, n] : runs) {
      EXPECT_EQ(n, std::make_pair(1, 1)) << "rank " << std::get<0>(key) << " mb " << std::get<1>(key);
      EXPECT_LE(times[key].first, times[key].second)
          << "rank " << std::get<0>(key) << " mb " << std::get<1>(key);
    }
    interleaved_v2 += c.kind == ScheduleKind::interleaved_1f1b && c.v == 2;
  }
  EXPECT_GT(interleaved_v2, 5);
}

// Evaluation's forward-only lists: deadlock-free, every (microbatch, chunk) forward once and nothing else
// computed, for every pipeline size, chunk count and micro-batch count of the sweep.
TEST(Schedule, ForwardOnlyIsDeadlockFreeAndRunsEveryForwardOnce) {
  for (int pp : {1, 2, 3, 4, 8})
    for (int v : {1, 2, 3})
      for (int m : {1, 2, 5, 8}) {
        if (pp == 1 && v > 1) continue;
        SCOPED_TRACE(::testing::Message() << "pp " << pp << " v " << v << " m " << m);
        std::vector<std::vector<Action>> lists;
        for (int r = 0; r < pp; ++r) lists.push_back(forward_only_actions(pp, v, m, r));
        const SimResult sim = simulate(lists, Costs{1, 2, 0.5});
        ASSERT_FALSE(sim.deadlock) << sim.deadlock_cycle;
        std::map<std::tuple<int, int, int>, int> forwards;
        for (const auto& e : sim.events) {
          ASSERT_NE(e.action.kind, K::backward);
          if (e.action.kind == K::forward) ++forwards[{e.rank, e.action.microbatch, e.action.chunk}];
        }
        EXPECT_EQ(forwards.size(), static_cast<size_t>(pp * v * m));
        for (const auto& [key, n] : forwards) EXPECT_EQ(n, 1);
      }
  EXPECT_THROW(forward_only_actions(2, 1, 0, 0), Error);
}

// With f = 1, b = 2 and no p2p latency, every rank idles (pp - 1) (f + b) in fill and drain, so the bubble is
// (pp - 1) / (m + pp - 1). Interleaving divides the stage time by v but not the fill/drain count:
// (pp - 1) / (v m + pp - 1). Megatron's interleaved ordering reaches that exactly when m % pp == 0 (the only
// m it accepts for v > 1).
TEST(Schedule, BubbleMatchesTheAnalyticFormula) {
  for (const Case& c : sweep()) {
    SCOPED_TRACE(c.name());
    const SimResult sim = simulate(c.kind, c.pp, c.v, c.m, Costs{});
    const double expected = static_cast<double>(c.pp - 1) / (c.v * c.m + c.pp - 1);
    EXPECT_NEAR(sim.bubble, expected, 1e-12);
    EXPECT_DOUBLE_EQ(sim.makespan, 3.0 * (c.v * c.m + c.pp - 1));
    for (double busy : sim.busy) EXPECT_DOUBLE_EQ(busy, 3.0 * c.v * c.m);
  }
}

// Activation memory: GPipe holds all m microbatches; 1F1B holds at most pp - rank (its warmup plus the one of
// the first steady pair); interleaved holds its warmup + 1 chunk-activations (each 1/v of a stage).
TEST(Schedule, PeakInFlight) {
  for (const Case& c : sweep()) {
    SCOPED_TRACE(c.name());
    const SimResult sim = simulate(c.kind, c.pp, c.v, c.m, Costs{});
    ASSERT_EQ(sim.peak_in_flight.size(), static_cast<size_t>(c.pp));
    for (int r = 0; r < c.pp; ++r) {
      if (c.kind == ScheduleKind::gpipe) {
        EXPECT_EQ(sim.peak_in_flight[r], c.m) << "rank " << r;
      }
      if (c.kind == ScheduleKind::one_f_one_b) {
        EXPECT_EQ(sim.peak_in_flight[r], std::min(c.pp - r, c.m)) << "rank " << r;
      }
      if (c.kind == ScheduleKind::interleaved_1f1b) {
        EXPECT_EQ(sim.peak_in_flight[r], std::min(interleaved_warmup(c.pp, c.v, c.m, r) + 1, c.v * c.m))
            << "rank " << r;
      }
    }
  }
}

TEST(Schedule, ReduceGradsFollowsTheLastBackwardOfItsChunkAndStepIsLast) {
  for (const Case& c : sweep()) {
    SCOPED_TRACE(c.name());
    for (int r = 0; r < c.pp; ++r) {
      const std::vector<Action> list = schedule_actions(c.kind, c.pp, c.v, c.m, r);
      ASSERT_FALSE(list.empty());
      EXPECT_EQ(list.back(), Action{K::optimizer_step});
      EXPECT_EQ(std::count(list.begin(), list.end(), Action{K::optimizer_step}), 1);
      for (int chunk = 0; chunk < c.v; ++chunk) {
        int last_backward = -1, reduce = -1;
        for (int i = 0; i < static_cast<int>(list.size()); ++i) {
          if (list[i].kind == K::backward && list[i].chunk == chunk) last_backward = i;
          if (list[i].kind == K::reduce_grads && list[i].chunk == chunk) {
            EXPECT_EQ(reduce, -1) << "two reduce_grads for chunk " << chunk;
            reduce = i;
          }
        }
        // Right after the backward, or after the send_grad that follows it.
        const bool sends = list[last_backward + 1].kind == K::send_grad;
        EXPECT_EQ(reduce, last_backward + 1 + sends) << "rank " << r << " chunk " << chunk;
        EXPECT_EQ(list[reduce].stage, chunk * c.pp + r);
      }
    }
  }
}

TEST(Schedule, InterleavedWithOneChunkIs1F1B) {
  for (int pp : {1, 2, 3, 4, 8}) {
    for (int m : {1, 2, 3, 4, 5, 8, 9, 16, 17}) {
      for (int r = 0; r < pp; ++r) {
        EXPECT_EQ(schedule_actions(ScheduleKind::interleaved_1f1b, pp, 1, m, r),
                  schedule_actions(ScheduleKind::one_f_one_b, pp, 1, m, r))
            << "pp " << pp << " m " << m << " rank " << r;
      }
    }
  }
}

TEST(Schedule, GoldenOneFOneBTwoRanksThreeMicrobatches) {
  // Rank 0 (stage 0): warmup min(pp - rank - 1, m) = 1 forward, 2 steady pairs, 1 cooldown backward.
  const std::vector<Action> rank0 = {
      {K::forward, 0, 0, 0, -1},       {K::send_activation, 0, 0, 0, 1},
      {K::forward, 1, 0, 0, -1},       {K::send_activation, 1, 0, 0, 1},
      {K::recv_grad, 0, 0, 0, 1},      {K::backward, 0, 0, 0, -1},
      {K::forward, 2, 0, 0, -1},       {K::send_activation, 2, 0, 0, 1},
      {K::recv_grad, 1, 0, 0, 1},      {K::backward, 1, 0, 0, -1},
      {K::recv_grad, 2, 0, 0, 1},      {K::backward, 2, 0, 0, -1},
      {K::reduce_grads, -1, 0, 0, -1}, {K::optimizer_step},
  };
  // Rank 1 (stage 1, the last: computes the loss, no warmup): strict one forward, one backward.
  const std::vector<Action> rank1 = {
      {K::recv_activation, 0, 0, 1, 0}, {K::forward, 0, 0, 1, -1},
      {K::backward, 0, 0, 1, -1},       {K::send_grad, 0, 0, 1, 0},
      {K::recv_activation, 1, 0, 1, 0}, {K::forward, 1, 0, 1, -1},
      {K::backward, 1, 0, 1, -1},       {K::send_grad, 1, 0, 1, 0},
      {K::recv_activation, 2, 0, 1, 0}, {K::forward, 2, 0, 1, -1},
      {K::backward, 2, 0, 1, -1},       {K::send_grad, 2, 0, 1, 0},
      {K::reduce_grads, -1, 0, 1, -1},  {K::optimizer_step},
  };
  EXPECT_EQ(schedule_actions(ScheduleKind::one_f_one_b, 2, 1, 3, 0), rank0);
  EXPECT_EQ(schedule_actions(ScheduleKind::one_f_one_b, 2, 1, 3, 1), rank1);
}

TEST(Schedule, GoldenInterleavedOrdering) {
  // pp 2, v 2, m 4, rank 0: warmup (pp - 1 - 0) * 2 + (v - 1) * pp = 4; microbatches in groups of pp = 2,
  // forwards walk chunk 0 then chunk 1 per group, backwards chunk 1 then chunk 0.
  std::vector<std::string> computes;
  for (const Action& a : schedule_actions(ScheduleKind::interleaved_1f1b, 2, 2, 4, 0)) {
    if (a.kind == K::forward || a.kind == K::backward) computes.push_back(action_str(a));
  }
  const std::vector<std::string> expected = {"F0c0", "F1c0", "F0c1", "F1c1", "F2c0", "B0c1", "F3c0", "B1c1",
                                             "F2c1", "B0c0", "F3c1", "B1c0", "B2c1", "B3c1", "B2c0", "B3c0"};
  EXPECT_EQ(computes, expected);
  // Chunk 1 of rank 0 is stage 2: it receives from stage 1 on rank 1 and sends on to stage 3 on rank 1.
  const std::vector<Action> list = schedule_actions(ScheduleKind::interleaved_1f1b, 2, 2, 4, 0);
  const auto f0c1 = std::find(list.begin(), list.end(), Action{K::forward, 0, 1, 2, -1});
  ASSERT_NE(f0c1, list.end());
  EXPECT_EQ(*(f0c1 - 1), (Action{K::recv_activation, 0, 1, 2, 1}));
  EXPECT_EQ(*(f0c1 + 1), (Action{K::send_activation, 0, 1, 2, 1}));
}

TEST(Schedule, OnePipelineRankHasNoCommunication) {
  for (ScheduleKind kind : kKinds) {
    for (const Action& a : schedule_actions(kind, 1, 1, 4, 0)) {
      EXPECT_TRUE(a.kind == K::forward || a.kind == K::backward || a.kind == K::reduce_grads ||
                  a.kind == K::optimizer_step)
          << action_str(a);
    }
  }
}

TEST(Simulator, ReportsADeadlockNamingBothRanks) {
  // Rank 0 waits for the gradient before it sends the activation that rank 1 waits for.
  const std::vector<std::vector<Action>> lists = {
      {{K::forward, 0, 0, 0},
       {K::recv_grad, 0, 0, 0, 1},
       {K::send_activation, 0, 0, 0, 1},
       {K::backward, 0, 0, 0},
       {K::optimizer_step}},
      {{K::recv_activation, 0, 0, 1, 0},
       {K::forward, 0, 0, 1},
       {K::backward, 0, 0, 1},
       {K::send_grad, 0, 0, 1, 0},
       {K::optimizer_step}},
  };
  const SimResult sim = simulate(lists, Costs{});
  EXPECT_TRUE(sim.deadlock);
  EXPECT_CONTAINS(sim.deadlock_cycle, "rank 0 waits for recv_grad mb0 c0 from 1");
  EXPECT_CONTAINS(sim.deadlock_cycle, "rank 1 waits for recv_act mb0 c0 from 0");
}

TEST(Simulator, P2PLatencyDelaysTheRecvs) {
  const SimResult sim = simulate(ScheduleKind::one_f_one_b, 2, 1, 1, Costs{1, 2, 0.5});
  ASSERT_FALSE(sim.deadlock);
  // F on rank 0, hop, F and B on rank 1, hop, B on rank 0.
  EXPECT_DOUBLE_EQ(sim.makespan, 1 + 0.5 + 1 + 2 + 0.5 + 2);
  int waits = 0;
  for (const auto& e : sim.events)
    waits += e.action.kind == K::recv_activation || e.action.kind == K::recv_grad;
  EXPECT_EQ(waits, 2);
}

TEST(Simulator, RefusesBrokenLists) {
  auto lists = all_ranks(ScheduleKind::one_f_one_b, 2, 1, 3);
  const auto broken = [&lists](int rank, auto edit) {
    auto copy = lists;
    edit(copy[rank]);
    return error_of([&] { simulate(copy, Costs{}); });
  };
  const auto erase = [](Action a) {
    return [a](std::vector<Action>& l) { l.erase(std::find(l.begin(), l.end(), a)); };
  };
  EXPECT_CONTAINS(broken(1, erase({K::backward, 2, 0, 1})), "rank 1: microbatch 2 chunk 0 has no backward");
  EXPECT_CONTAINS(broken(0, erase({K::send_activation, 1, 0, 0, 1})),
                  "rank 0: F1c0 sends its result nowhere");
  EXPECT_CONTAINS(broken(1, erase({K::recv_activation, 0, 0, 1, 0})), "rank 1: F0c0 has no recv_act mb0 c0");
  EXPECT_CONTAINS(broken(0, [](std::vector<Action>& l) { l.push_back(l[0]); }), "rank 0: F0c0 appears twice");
  EXPECT_CONTAINS(broken(0, [](std::vector<Action>& l) { std::swap(l[0], l[1]); }),
                  "rank 0: send_act mb0 c0 (action #0) comes before F0c0 (#1)");
  EXPECT_CONTAINS(broken(0, [](std::vector<Action>& l) { l[1].peer = 0; }), "lives on rank 1, not 0");
  EXPECT_CONTAINS(broken(0,
                         [](std::vector<Action>& l) {
                           l.insert(l.begin(), Action{K::recv_activation, 0, 0, 0, 1});
                         }),
                  "stage 0 is the first stage");
  EXPECT_CONTAINS(broken(1, [](std::vector<Action>& l) { l[1].stage = 0; }),
                  "has stage 0, but chunk 0 of rank 1");
  EXPECT_CONTAINS(error_of([] { simulate(std::vector<std::vector<Action>>{}, Costs{}); }),
                  "no pipeline ranks");
  EXPECT_CONTAINS(error_of([] { simulate(ScheduleKind::gpipe, 2, 1, 2, Costs{-1, 2, 0}); }), "non-negative");
}

TEST(Schedule, ParseAndName) {
  for (ScheduleKind kind : kKinds) EXPECT_EQ(parse_schedule(schedule_name(kind)), kind);
  EXPECT_EQ(parse_schedule("1f1b"), ScheduleKind::one_f_one_b);
  const std::string err = error_of([] { parse_schedule("bogus"); });
  EXPECT_CONTAINS(err, "unknown pipeline schedule 'bogus'");
  EXPECT_CONTAINS(err, "gpipe, 1f1b, interleaved_1f1b");
}

TEST(Schedule, ProblemsOfInvalidCombinations) {
  EXPECT_EQ(schedule_problem(ScheduleKind::interleaved_1f1b, 2, 2, 4), "");
  EXPECT_EQ(schedule_problem(ScheduleKind::interleaved_1f1b, 2, 1, 3), "");
  EXPECT_CONTAINS(schedule_problem(ScheduleKind::interleaved_1f1b, 2, 2, 3),
                  "needs microbatches (3) divisible by the pipeline size (2)");
  EXPECT_CONTAINS(schedule_problem(ScheduleKind::interleaved_1f1b, 1, 2, 4), "needs pipeline size > 1");
  EXPECT_CONTAINS(schedule_problem(ScheduleKind::one_f_one_b, 4, 2, 8),
                  "schedule 1f1b runs one model chunk per rank (virtual stages 1), got virtual stages 2");
  EXPECT_CONTAINS(schedule_problem(ScheduleKind::gpipe, 4, 2, 8), "use interleaved_1f1b");
  EXPECT_CONTAINS(schedule_problem(ScheduleKind::gpipe, 0, 1, 8), "pipeline size must be at least 1, got 0");
  EXPECT_CONTAINS(schedule_problem(ScheduleKind::gpipe, 2, 1, 0), "microbatches must be at least 1, got 0");
  EXPECT_CONTAINS(schedule_problem(ScheduleKind::interleaved_1f1b, 2, 0, 4),
                  "virtual stages must be at least 1");
  EXPECT_CONTAINS(error_of([] { schedule_actions(ScheduleKind::interleaved_1f1b, 2, 2, 3, 0); }),
                  "divisible");
  EXPECT_CONTAINS(error_of([] { schedule_actions(ScheduleKind::gpipe, 2, 1, 3, 2); }),
                  "pipeline rank 2 is outside pipeline size 2");
}

TEST(Simulator, Timeline) {
  const SimResult sim = simulate(ScheduleKind::one_f_one_b, 2, 1, 3, Costs{});
  const std::string text = timeline(sim, 2);
  EXPECT_CONTAINS(text, "rank 0 |F0F1....B0--F2B1--..B2--|\n");
  EXPECT_CONTAINS(text, "rank 1 |..F0B0--F1B1--F2B2--....|\n");
  // Two chunks: chunk 1 in lower case. Rank 0 holds stages 0 and 2; its backwards start on chunk 1.
  const std::string two = timeline(simulate(ScheduleKind::interleaved_1f1b, 2, 2, 4, Costs{}), 2);
  EXPECT_CONTAINS(two, "rank 0 |F0F1f0f1F2..b0--F3b1--f2B0--f3B1--..b2--..b3--B2--B3--|\n");
  EXPECT_CONTAINS(two, "rank 1 |..F0F1f0b0--f1b1--F2B0--F3B1--f2b2--f3b3--B2--B3--....|\n");
  // Too long for labels: one character per cell, rows within 200 characters.
  for (int m : {24, 64}) {
    const std::string big = timeline(simulate(ScheduleKind::interleaved_1f1b, 8, 2, m, Costs{}), 8);
    if (m == 24) EXPECT_CONTAINS(big, "rank 7 |.......FFFFFFFFfbbfbbfbb");
    size_t start = 0;
    for (size_t end = big.find('\n'); end != std::string::npos; end = big.find('\n', start = end + 1)) {
      if (big.compare(start, 4, "rank") == 0) {
        EXPECT_LE(end - start, 209u) << big.substr(start, end - start);
      }
    }
  }
}

TEST(ChromeTrace, WritesCompleteEventsAndThreadNames) {
  const std::string path = ::testing::TempDir() + "trident_pp_trace.json";
  write_chrome_trace(path, {{"F0c0", "forward", 0, 0, 0, 1000}, {"B0c0", "backward", 0, 1, 1000, 2000}},
                     {{0, "rank 0"}, {1, "rank 1"}});
  std::ifstream in(path);
  const nlohmann::json doc = nlohmann::json::parse(in);
  int complete = 0, names = 0;
  for (const auto& e : doc.at("traceEvents")) {
    if (e.at("ph") == "X") {
      ++complete;
      EXPECT_TRUE(e.contains("ts") && e.contains("dur") && e.contains("pid") && e.contains("tid"));
    }
    if (e.at("ph") == "M" && e.at("name") == "thread_name") {
      ++names;
      EXPECT_EQ(e.at("args").at("name"), "rank " + std::to_string(e.at("tid").get<int>()));
    }
  }
  EXPECT_EQ(complete, 2);
  EXPECT_EQ(names, 2);
  EXPECT_EQ(doc.at("traceEvents").back().at("dur"), 2000);
  std::remove(path.c_str());
  EXPECT_CONTAINS(error_of([] { write_chrome_trace("/nonexistent-dir/trace.json", {}); }),
                  "cannot write Chrome trace '/nonexistent-dir/trace.json'");
}

}  // namespace
}  // namespace trident::pp
