// Multi-node placement without communication: the CPU thread policy, the node map (from host names and as
// mpirun places ranks), ranks sharing cores, tp/ep groups that span nodes, and the numerics fingerprint.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "core/comm/local_communicator.h"
#include "core/mesh/device_mesh.h"
#include "core/mesh/node_map.h"
#include "core/mesh/node_spans.h"
#include "core/runtime/gather_strings.h"
#include "core/runtime/numerics_fingerprint.h"
#include "core/runtime/rank_placement.h"
#include "core/runtime/threads.h"
#include "tests/unit/test_util.h"

namespace trident {
namespace {

using test::error_of;

// Sets an environment variable for one scope and restores what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// ---- threads
// ------------------------------------------------------------------------------------------------

TEST(ThreadPolicy, ConfigThenEnvThenAffinity) {
  // runtime.threads wins over everything.
  ThreadChoice c = choose_cpu_threads(3, "5", 8, 2);
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.source, ThreadSource::config);
  // OMP_NUM_THREADS next, whatever the mask says.
  c = choose_cpu_threads(0, "5", 8, 2);
  EXPECT_EQ(c.threads, 5);
  EXPECT_EQ(c.source, ThreadSource::env);
  c = choose_cpu_threads(0, "4,2", 1, 1);  // nested levels: the outermost
  EXPECT_EQ(c.threads, 4);
  // Neither: the mask's cores over the ranks sharing them.
  c = choose_cpu_threads(0, nullptr, 8, 2);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.source, ThreadSource::affinity);
  EXPECT_EQ(choose_cpu_threads(0, "", 6, 1).threads, 6);  // set but empty: unset
  EXPECT_EQ(choose_cpu_threads(0, nullptr, 7, 2).threads, 3);
  EXPECT_EQ(choose_cpu_threads(0, nullptr, 1, 5).threads, 1);  // never below one
  EXPECT_EQ(choose_cpu_threads(-1, nullptr, 2, 0).threads, 2);
  EXPECT_STREQ(thread_source_name(ThreadSource::env), "OMP_NUM_THREADS");
}

TEST(ThreadPolicy, BadOmpNumThreadsIsOneClearError) {
  for (const char* bad : {"abc", "0", "-2", "3x", ",4"}) {
    EXPECT_CONTAINS(error_of([&] { choose_cpu_threads(0, bad, 4, 1); }),
                    "OMP_NUM_THREADS ('" + std::string(bad));
  }
  // runtime.threads set: the variable is not read at all.
  EXPECT_EQ(choose_cpu_threads(2, "abc", 4, 1).threads, 2);
}

TEST(ThreadPolicy, SetCpuThreadsReadsTheEnvironmentUnlessTheConfigSetsIt) {
  const int before = omp_get_max_threads();
  {
    ScopedEnv env("OMP_NUM_THREADS", "3");
    EXPECT_EQ(set_cpu_threads(0), 3);
    EXPECT_EQ(omp_get_max_threads(), 3);
    EXPECT_EQ(set_cpu_threads(2), 2);
    EXPECT_EQ(omp_get_max_threads(), 2);
  }
  {
    ScopedEnv env("OMP_NUM_THREADS", nullptr);
    ScopedEnv local("OMPI_COMM_WORLD_LOCAL_SIZE", nullptr);
    EXPECT_EQ(set_cpu_threads(0), mask_cores(affinity_mask()));  // one process: every core of its mask
  }
  set_cpu_threads(before);
}

// ---- node map
// -----------------------------------------------------------------------------------------------

TEST(NodeMap, FromHostNames) {
  const NodeMap m = NodeMap::from_hosts({"b", "a", "b", "a", "c"});
  EXPECT_EQ(m.hosts, (std::vector<std::string>{"b", "a", "c"}));  // numbered by first rank
  EXPECT_EQ(m.node, (std::vector<int>{0, 1, 0, 1, 2}));
  EXPECT_EQ(m.local_rank, (std::vector<int>{0, 0, 1, 1, 0}));
  EXPECT_EQ(m.local_size, (std::vector<int>{2, 2, 2, 2, 1}));
  EXPECT_EQ(m.ranks_on(1), (std::vector<int>{1, 3}));
  EXPECT_EQ(m.table(), "node 0 (b): ranks 0 2\nnode 1 (a): ranks 1 3\nnode 2 (c): ranks 4\n");
}

TEST(NodeMap, PlacedBySlotAndByNode) {
  const NodeMap slot = NodeMap::placed(6, 3, NodeMapping::slot);
  EXPECT_EQ(slot.node, (std::vector<int>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(slot.hosts, (std::vector<std::string>{"node-0", "node-1"}));
  const NodeMap rr = NodeMap::placed(6, 3, NodeMapping::node);
  EXPECT_EQ(rr.node, (std::vector<int>{0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(rr.local_rank, (std::vector<int>{0, 0, 1, 1, 2, 2}));
  EXPECT_CONTAINS(error_of([] { NodeMap::placed(6, 4, NodeMapping::slot); }),
                  "--ranks-per-node 4 does not divide the world size 6");
  EXPECT_CONTAINS(error_of([] { NodeMap::placed(6, 0, NodeMapping::slot); }), "at least 1, got 0");
}

CpuMask mask_of(std::initializer_list<int> cores) {
  CpuMask m(32, 0);
  for (const int c : cores) m[c / 32] |= 1u << (c % 32);
  return m;
}

TEST(RankPlacement, RanksSharingCoresCountOnlyOverlappingMasksOnTheSameNode) {
  // Node a: ranks 0, 1 bound to cores 0 and 1; rank 2 unbound (cores 0-3), overlapping both.
  // Node b: rank 3 on cores 0-3: the same core numbers, another machine.
  const NodeMap nodes = NodeMap::from_hosts({"a", "a", "a", "b"});
  const std::vector<CpuMask> masks = {mask_of({0}), mask_of({1}), mask_of({0, 1, 2, 3}),
                                      mask_of({0, 1, 2, 3})};
  EXPECT_EQ(ranks_sharing_cores(masks, nodes, 0), 2);  // itself and rank 2
  EXPECT_EQ(ranks_sharing_cores(masks, nodes, 1), 2);
  EXPECT_EQ(ranks_sharing_cores(masks, nodes, 2), 3);
  EXPECT_EQ(ranks_sharing_cores(masks, nodes, 3), 1);
  EXPECT_EQ(mask_cores(masks[2]), 4);
  EXPECT_EQ(mask_cores(mask_of({40, 1000})), 2);
  // A rank bound to one core runs one thread, not the node's cores over its ranks.
  EXPECT_EQ(
      choose_cpu_threads(0, nullptr, mask_cores(masks[0]), ranks_sharing_cores(masks, nodes, 0)).threads, 1);
  EXPECT_EQ(
      choose_cpu_threads(0, nullptr, mask_cores(masks[3]), ranks_sharing_cores(masks, nodes, 3)).threads, 4);
}

TEST(RankPlacement, HostNameTestHookAndOneRankExchange) {
  ScopedEnv env("TRIDENT_HOSTNAME", "fake-node-7");
  EXPECT_EQ(host_name(), "fake-node-7");
  comm::LocalCommunicator world;
  const RankPlacement p = exchange_placement(world);
  EXPECT_EQ(p.nodes.hosts, (std::vector<std::string>{"fake-node-7"}));
  EXPECT_EQ(p.sharing_ranks, 1);
  EXPECT_EQ(p.mask_cores, mask_cores(affinity_mask()));
  // Strings longer than the slot are cut, shorter ones come back whole.
  EXPECT_EQ(all_gather_strings(world, "abcdefgh", 5), (std::vector<std::string>{"abcde"}));
  EXPECT_EQ(all_gather_strings(world, "ab", 5), (std::vector<std::string>{"ab"}));
}

// ---- groups spanning nodes
// ----------------------------------------------------------------------------------

std::vector<std::string> names(const std::vector<SpanningGroup>& groups) {
  std::vector<std::string> n;
  for (const auto& g : groups) n.push_back(g.name());
  return n;
}

TEST(NodeSpans, TensorParallelGroupsSpanNodesOnlyWhenMappedRoundRobin) {
  const DeviceMesh mesh(4, MeshSizes{.tp = 2, .dp = 0});
  EXPECT_TRUE(groups_spanning_nodes(mesh, NodeMap::placed(4, 2, NodeMapping::slot)).empty());
  EXPECT_TRUE(spanning_warnings({}).empty());
  const std::vector<SpanningGroup> spans =
      groups_spanning_nodes(mesh, NodeMap::placed(4, 2, NodeMapping::node));
  // tp fastest: groups [0,1] and [2,3]; round robin puts even ranks on node-0, odd ones on node-1.
  EXPECT_EQ(names(spans), (std::vector<std::string>{"tp[0,1]", "tp[2,3]"}));
  EXPECT_EQ(spans[0].hosts, (std::vector<std::string>{"node-0", "node-1"}));
  const std::vector<std::string> w = spanning_warnings(spans);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(
      w[0],
      "tensor-parallel groups tp[0,1], tp[2,3] span nodes node-0, node-1: tp traffic is the heaviest and "
      "belongs inside a node; launch with --map-by slot (ranks filled node by node) or reorder "
      "parallel.order");
  // One node: nothing spans, however the ranks are ordered.
  EXPECT_TRUE(groups_spanning_nodes(mesh, NodeMap::placed(4, 4, NodeMapping::node)).empty());
}

TEST(NodeSpans, OrderWithTensorParallelLastSpansEvenBySlot) {
  // tp slowest: tp groups are {r, r + 4}; two nodes of 4 by slot put each group's ranks on both.
  const DeviceMesh mesh(8, MeshSizes{.tp = 2, .dp = 0}, "dp-cp-ep-pp-tp");
  const auto spans = groups_spanning_nodes(mesh, NodeMap::placed(8, 4, NodeMapping::slot));
  EXPECT_EQ(names(spans), (std::vector<std::string>{"tp[0,4]", "tp[1,5]", "tp[2,6]", "tp[3,7]"}));
  // Four nodes of two: each dp group {0,1},... stays, tp still spans.
  EXPECT_EQ(groups_spanning_nodes(mesh, NodeMap::placed(8, 2, NodeMapping::slot)).size(), 4u);
}

TEST(NodeSpans, ExpertParallelGroupsAreFlaggedWithTheirOwnReason) {
  // ep 4 on 8 ranks, tp 1: ep groups {0,1,2,3}, {4,5,6,7}; 2 ranks per node puts each on two nodes.
  const DeviceMesh mesh(8, MeshSizes{.ep = 4, .dp = 0});
  const auto spans = groups_spanning_nodes(mesh, NodeMap::placed(8, 2, NodeMapping::slot));
  EXPECT_EQ(names(spans), (std::vector<std::string>{"ep[0,1,2,3]", "ep[4,5,6,7]"}));
  EXPECT_EQ(spans[1].hosts, (std::vector<std::string>{"node-2", "node-3"}));
  const auto w = spanning_warnings(spans);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_CONTAINS(
      w[0], "expert-parallel groups ep[0,1,2,3], ep[4,5,6,7] span nodes node-0, node-1, node-2, node-3");
  EXPECT_CONTAINS(w[0], "all-to-all");
  EXPECT_TRUE(groups_spanning_nodes(mesh, NodeMap::placed(8, 4, NodeMapping::slot)).empty());
}

TEST(NodeSpans, ManyGroupsAreCountedNotListed) {
  const DeviceMesh mesh(16, MeshSizes{.tp = 2, .dp = 0});
  const auto w = spanning_warnings(groups_spanning_nodes(mesh, NodeMap::placed(16, 8, NodeMapping::node)));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_CONTAINS(w[0], "tp[0,1], tp[2,3], tp[4,5], tp[6,7] and 4 more span nodes node-0, node-1:");
}

// ---- numerics fingerprint
// -----------------------------------------------------------------------------------

TEST(NumericsFingerprint, ThisRanksSettingsRoundTrip) {
  ScopedEnv env("OPENBLAS_CORETYPE", "Haswell");
  const auto s = numerics_settings(4, /*cpu_compute=*/true);
  std::vector<std::string> keys;
  for (const auto& x : s) {
    keys.push_back(x.name);
    EXPECT_FALSE(x.value.empty()) << x.name;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"trident", "blas", "blas core", "cpu extensions",
                                            "OPENBLAS_CORETYPE", "threads"}));
  EXPECT_EQ(s.back().value, "4");
  const auto back = parse_fingerprint(fingerprint_text(s));
  ASSERT_EQ(back.size(), s.size());
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(back[i].value, s[i].value);
  // On a GPU the CPU thread count does not enter the sums.
  EXPECT_EQ(numerics_settings(4, false).back().name, "OPENBLAS_CORETYPE");
}

TEST(NumericsFingerprint, SameEverywhereSaysNothing) {
  const std::string f = "trident=0.1.0\nblas core=Haswell\nthreads=2\n";
  EXPECT_EQ(numerics_mismatch_warning({f, f, f, f}, NodeMap::placed(4, 2, NodeMapping::slot)), "");
}

TEST(NumericsFingerprint, DifferingKernelsNameTheNodesAndTheFix) {
  const std::string a = "trident=0.1.0\nblas core=Haswell\nOPENBLAS_CORETYPE=Haswell\nthreads=2\n";
  const std::string b = "trident=0.1.0\nblas core=Sandybridge\nOPENBLAS_CORETYPE=Sandybridge\nthreads=2\n";
  const NodeMap nodes = NodeMap::from_hosts({"node-a", "node-a", "node-b", "node-b"});
  const std::string w = numerics_mismatch_warning({a, a, b, b}, nodes);
  EXPECT_CONTAINS(w, "blas core: 'Haswell' on node-a (ranks 0 1) vs 'Sandybridge' on node-b (ranks 2 3)");
  EXPECT_CONTAINS(
      w, "OPENBLAS_CORETYPE: 'Haswell' on node-a (ranks 0 1) vs 'Sandybridge' on node-b (ranks 2 3)");
  EXPECT_CONTAINS(w, "mpirun -x OPENBLAS_CORETYPE");
  EXPECT_EQ(w.find("trident:"), std::string::npos);  // settings that agree are not listed
  EXPECT_EQ(w.find("threads"), std::string::npos);
}

TEST(NumericsFingerprint, ASettingOnlySomeRanksHaveIsUnsetOnTheOthers) {
  const std::string a = "blas core=Haswell\nthreads=2\n";
  const std::string b = "blas core=Haswell\nOPENBLAS_CORETYPE=Haswell\nthreads=1\n";
  const std::string w = numerics_mismatch_warning({a, b}, NodeMap::from_hosts({"x", "y"}));
  EXPECT_CONTAINS(w, "OPENBLAS_CORETYPE: 'Haswell' on y (rank 1) vs 'unset' on x (rank 0)");
  EXPECT_CONTAINS(w, "threads: '1' on y (rank 1) vs '2' on x (rank 0)");
  EXPECT_CONTAINS(w, "the same thread count (runtime.threads)");
  EXPECT_EQ(w.find("blas core"), std::string::npos);
}

}  // namespace
}  // namespace trident
