// DeviceMesh: coordinates, the groups of every kind on the dense and expert grids, pipeline neighbours and
// the refusal of impossible layouts, over many world sizes, layouts and orders. Nothing communicates.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/mesh/device_mesh.h"
#include "core/runtime/error.h"
#include "tests/unit/test_util.h"

namespace trident {
namespace {

using test::error_of;
using Groups = std::vector<std::vector<int>>;

const std::vector<std::string> kOrders = {"tp-cp-ep-dp-pp", "tp-dp-pp-cp-ep", "pp-tp-cp-ep-dp",
                                          "tp-pp-dp-cp-ep", "dp-tp-cp-ep-pp", "cp-ep-tp-dp-pp",
                                          "ep-dp-cp-tp-pp"};

const std::vector<Axis> kDenseAxes = {Axis::tp, Axis::cp, Axis::dp, Axis::pp};
const std::vector<Axis> kExpertAxes = {Axis::etp, Axis::ep, Axis::edp, Axis::pp};

// Every group kind training might ask for, on both grids.
const std::vector<std::vector<Axis>> kMasks = {
    {},
    {Axis::tp},
    {Axis::cp},
    {Axis::dp},
    {Axis::pp},
    {Axis::dp, Axis::cp},
    {Axis::tp, Axis::pp},
    {Axis::tp, Axis::cp},
    {Axis::tp, Axis::dp, Axis::cp},
    {Axis::cp, Axis::pp},
    {Axis::tp, Axis::cp, Axis::dp, Axis::pp},
    {Axis::ep},
    {Axis::edp},
    {Axis::etp},
    {Axis::etp, Axis::ep},
    {Axis::ep, Axis::edp},
    {Axis::etp, Axis::ep, Axis::pp},
};

std::string layout_name(int world, const MeshSizes& s, const std::string& order) {
  return "world " + std::to_string(world) + " tp " + std::to_string(s.tp) + " cp " + std::to_string(s.cp) +
         " ep " + std::to_string(s.ep) + " dp " + std::to_string(s.dp) + " pp " + std::to_string(s.pp) +
         " etp " + std::to_string(s.etp) + " order " + order;
}

bool is_dense(const std::vector<Axis>& mask) {
  return std::all_of(mask.begin(), mask.end(), [](Axis a) {
    return std::find(kDenseAxes.begin(), kDenseAxes.end(), a) != kDenseAxes.end();
  });
}

std::vector<std::string> split_order(const std::string& order) {
  std::vector<std::string> names;
  size_t start = 0;
  for (size_t i = 0; i <= order.size(); ++i)
    if (i == order.size() || order[i] == '-') {
      names.push_back(order.substr(start, i - start));
      start = i + 1;
    }
  return names;
}

// The coordinates written out independently of the mesh: stride of an axis = product of the sizes of the
// axes before it in the order (ep left out of the dense grid, cp out of the expert grid).
std::map<Axis, int> reference_coords(int rank, int world, const MeshSizes& s, const std::string& order) {
  const int dp = world / (s.tp * s.cp * s.pp), edp = world / (s.etp * s.ep * s.pp);
  const std::map<std::string, std::pair<Axis, int>> dense = {
      {"tp", {Axis::tp, s.tp}}, {"cp", {Axis::cp, s.cp}}, {"dp", {Axis::dp, dp}}, {"pp", {Axis::pp, s.pp}}};
  const std::map<std::string, std::pair<Axis, int>> expert = {{"tp", {Axis::etp, s.etp}},
                                                              {"ep", {Axis::ep, s.ep}},
                                                              {"dp", {Axis::edp, edp}},
                                                              {"pp", {Axis::pp, s.pp}}};
  std::map<Axis, int> c;
  for (const auto* grid : {&dense, &expert}) {
    int stride = 1;
    for (const std::string& name : split_order(order)) {
      auto it = grid->find(name);
      if (it == grid->end()) continue;
      // pp is read from the dense grid (the expert grid's agrees when the pipeline groups coincide).
      if (grid == &dense || it->second.first != Axis::pp)
        c[it->second.first] = rank / stride % it->second.second;
      stride *= it->second.second;
    }
  }
  return c;
}

// Pipeline groups as each grid sees them: ranks agreeing on every non-pp coordinate of that grid.
Groups reference_pp_groups(int world, const MeshSizes& s, const std::string& order, bool expert) {
  const int dp = world / (s.tp * s.cp * s.pp), edp = world / (s.etp * s.ep * s.pp);
  std::map<std::string, int> size = {{"tp", expert ? s.etp : s.tp},
                                     {"cp", expert ? 1 : s.cp},
                                     {"ep", expert ? s.ep : 1},
                                     {"dp", expert ? edp : dp},
                                     {"pp", s.pp}};
  std::map<std::vector<int>, std::vector<int>> by_key;
  for (int r = 0; r < world; ++r) {
    std::vector<int> key;
    int stride = 1;
    for (const std::string& name : split_order(order)) {
      if (name != "pp") key.push_back(r / stride % size[name]);
      stride *= size[name];
    }
    by_key[key].push_back(r);
  }
  Groups gs;
  for (auto& [key, g] : by_key) gs.push_back(g);
  std::sort(gs.begin(), gs.end());
  return gs;
}

// Layouts whose sizes divide the world: every one up to world 12 in every order; past that a deterministic
// sample (cp, etp <= 2, one in five, two orders, plus the all-dp layout) up to world 64, so the suite stays
// quick. dp alternates between explicit and 0.
struct Layout {
  int world;
  MeshSizes sizes;
  std::string order;
};

std::vector<Layout> valid_layouts(int max_world) {
  std::vector<Layout> out;
  for (int world = 1; world <= max_world; ++world) {
    std::vector<int> divisors;
    for (int d = 1; d <= world; ++d)
      if (world % d == 0) divisors.push_back(d);
    for (int tp : divisors)
      for (int cp : divisors)
        for (int pp : divisors) {
          if (world % (tp * cp * pp) != 0) continue;
          for (int ep : divisors)
            for (int etp : divisors) {
              if (world % (etp * ep * pp) != 0) continue;
              const int hash = world * 7 + tp * 3 + cp * 5 + pp * 11 + ep * 13 + etp * 17;
              const bool plain = tp * cp * pp * ep * etp == 1;  // every world, however prime
              if (world > 12 && !plain && (cp > 2 || etp > 2 || hash % 5 != 0)) continue;
              const int dp = (tp + ep + pp) % 2 ? world / (tp * cp * pp) : 0;
              for (size_t o = 0; o < kOrders.size(); ++o)
                if (world <= 12 || o == 0 || o == 1 + static_cast<size_t>(hash / 5) % (kOrders.size() - 1))
                  out.push_back({world, {tp, cp, ep, dp, pp, etp}, kOrders[o]});
            }
        }
  }
  return out;
}

// Meshes for every layout above whose pipeline groups coincide on both grids (the others are refused;
// RefusesExactlyTheImpossibleLayouts checks that this happens exactly for them). Built once.
const std::vector<std::pair<Layout, DeviceMesh>>& all_meshes() {
  static const auto meshes = [] {
    std::vector<std::pair<Layout, DeviceMesh>> out;
    for (const Layout& l : valid_layouts(64))
      if (reference_pp_groups(l.world, l.sizes, l.order, false) ==
          reference_pp_groups(l.world, l.sizes, l.order, true))
        out.emplace_back(l, DeviceMesh(l.world, l.sizes, l.order));
    return out;
  }();
  return meshes;
}

void for_each_mesh(const std::function<void(const Layout&, const DeviceMesh&)>& check) {
  for (const auto& [l, mesh] : all_meshes()) {
    SCOPED_TRACE(layout_name(l.world, l.sizes, l.order));
    check(l, mesh);
    if (::testing::Test::HasFailure()) break;  // one failing layout is enough to read
  }
}

// ---------------------------------------------------------------------------------------------------------
// Small layouts written out by hand.

TEST(MeshKnown, World8Tp2Pp2Dp2DefaultOrder) {
  const DeviceMesh m(8, {.tp = 2, .dp = 2, .pp = 2});
  EXPECT_EQ(m.groups({Axis::tp}), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(m.groups({Axis::dp}), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(m.groups({Axis::pp}), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(m.groups({Axis::cp}), (Groups{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}));
  EXPECT_EQ(m.groups({Axis::tp, Axis::pp}), (Groups{{0, 1, 4, 5}, {2, 3, 6, 7}}));
  EXPECT_EQ(m.groups({Axis::dp, Axis::cp}), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  // Experts: etp 1 x ep 1 x edp 4 x pp 2.
  EXPECT_EQ(m.size(Axis::edp), 4);
  EXPECT_EQ(m.groups({Axis::edp}), (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  EXPECT_EQ(m.groups({Axis::ep}), (Groups{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}));
  const MeshCoords c = m.coords(5);
  EXPECT_EQ((std::vector<int>{c.tp, c.cp, c.dp, c.pp, c.ep, c.etp, c.edp}),
            (std::vector<int>{1, 0, 0, 1, 0, 0, 1}));
  EXPECT_EQ(m.next_stage_rank(1), 5);
  EXPECT_EQ(m.next_stage_rank(5), -1);
  EXPECT_EQ(m.next_stage_rank(5, StageEnds::wrap), 1);
  EXPECT_EQ(m.prev_stage_rank(1), -1);
  EXPECT_EQ(m.prev_stage_rank(1, StageEnds::wrap), 5);
  EXPECT_TRUE(m.is_first_stage(3));
  EXPECT_TRUE(m.is_last_stage(7));
}

TEST(MeshKnown, World8ExpertGridTp2Ep2) {
  // Dense tp 2 x dp 4; experts etp 2 x ep 2 x edp 2 (order tp-cp-ep-dp-pp: etp fastest, then ep, then edp).
  const DeviceMesh m(8, {.tp = 2, .ep = 2, .dp = 0, .etp = 2});
  EXPECT_EQ(m.size(Axis::dp), 4);
  EXPECT_EQ(m.size(Axis::edp), 2);
  EXPECT_EQ(m.groups({Axis::etp}), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(m.groups({Axis::ep}), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(m.groups({Axis::edp}), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(m.groups({Axis::etp, Axis::ep}), (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  EXPECT_EQ(m.groups({Axis::dp}), (Groups{{0, 2, 4, 6}, {1, 3, 5, 7}}));
}

TEST(MeshKnown, World8Ep4Etp1) {
  // Experts carved out of the data-parallel ranks: ep groups are the first ranks of dp, edp the rest.
  const DeviceMesh m(8, {.tp = 2, .ep = 4, .dp = 0});
  EXPECT_EQ(m.groups({Axis::ep}), (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  EXPECT_EQ(m.groups({Axis::edp}), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
}

TEST(MeshKnown, World8Cp2Tp2Pp2) {
  const DeviceMesh m(8, {.tp = 2, .cp = 2, .pp = 2});
  EXPECT_EQ(m.size(Axis::dp), 1);
  EXPECT_EQ(m.groups({Axis::cp}), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(m.groups({Axis::dp, Axis::cp}), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(m.groups({Axis::tp, Axis::cp}), (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  EXPECT_EQ(m.groups({Axis::pp}), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
}

TEST(MeshKnown, PipelineFirstOrder) {
  // "pp-tp-cp-ep-dp": pipeline stages are neighbours, tp strides over them.
  const DeviceMesh m(8, {.tp = 2, .dp = 0, .pp = 2}, "pp-tp-cp-ep-dp");
  EXPECT_EQ(m.groups({Axis::pp}), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(m.groups({Axis::tp}), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(m.groups({Axis::dp}), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(m.next_stage_rank(2), 3);
  EXPECT_EQ(m.prev_stage_rank(3), 2);
}

TEST(MeshKnown, SingleRank) {
  const DeviceMesh m(1, {.dp = 0});
  for (const auto& mask : kMasks) EXPECT_EQ(m.groups(mask), (Groups{{0}}));
  EXPECT_EQ(m.next_stage_rank(0), -1);
  EXPECT_EQ(m.next_stage_rank(0, StageEnds::wrap), 0);
  EXPECT_TRUE(m.is_first_stage(0));
  EXPECT_TRUE(m.is_last_stage(0));
}

// ---------------------------------------------------------------------------------------------------------
// Properties over many layouts.

TEST(MeshProperties, EnoughLayoutsAreCovered) {
  std::set<int> worlds;
  std::set<std::string> orders;
  int with_experts = 0, with_cp = 0, explicit_dp = 0;
  for (const auto& [l, mesh] : all_meshes()) {
    worlds.insert(l.world);
    orders.insert(l.order);
    with_experts += l.sizes.ep > 1 && l.sizes.etp > 1;
    with_cp += l.sizes.cp > 1;
    explicit_dp += l.sizes.dp > 0;
  }
  EXPECT_GT(all_meshes().size(), 4000u);
  EXPECT_EQ(worlds.size(), 64u);
  EXPECT_EQ(orders.size(), kOrders.size());
  EXPECT_GT(with_experts, 300);
  EXPECT_GT(with_cp, 1000);
  EXPECT_GT(explicit_dp, 1000);
}

TEST(MeshProperties, CoordinatesMatchStridesAndRoundTrip) {
  for_each_mesh([](const Layout& l, const DeviceMesh& m) {
    for (int r = 0; r < l.world; ++r) {
      const MeshCoords c = m.coords(r);
      for (auto [axis, value] : reference_coords(r, l.world, l.sizes, l.order))
        ASSERT_EQ(c[axis], value) << "rank " << r << " axis " << axis_name(axis);
      for (Axis a : kDenseAxes) ASSERT_EQ(m.coord(r, a), c[a]);
      ASSERT_EQ(m.dense_rank(c), r);
      ASSERT_EQ(m.expert_rank(c), r);
    }
  });
}

TEST(MeshProperties, EveryGroupKindPartitionsAllRanks) {
  for_each_mesh([](const Layout& l, const DeviceMesh& m) {
    for (const auto& mask : kMasks) {
      SCOPED_TRACE("groups " + axes_name(mask));
      const Groups gs = m.groups(mask);
      int expected_size = 1;
      for (Axis a : mask) expected_size *= m.size(a);
      std::vector<int> seen(l.world, 0);
      for (size_t i = 0; i < gs.size(); ++i) {
        ASSERT_EQ(static_cast<int>(gs[i].size()), expected_size);
        ASSERT_TRUE(std::is_sorted(gs[i].begin(), gs[i].end()));
        if (i > 0) {
          ASSERT_LT(gs[i - 1][0], gs[i][0]);
        }
        for (int r : gs[i]) ++seen[r];
        ASSERT_EQ(m.group_of(gs[i][0], mask), gs[i]);
        ASSERT_EQ(m.group_of(gs[i].back(), mask), gs[i]);
      }
      ASSERT_EQ(std::count(seen.begin(), seen.end(), 1), l.world);
    }
  });
}

TEST(MeshProperties, GroupMembersDifferOnlyInTheMaskedAxes) {
  for_each_mesh([](const Layout&, const DeviceMesh& m) {
    for (const auto& mask : kMasks) {
      const std::vector<Axis>& grid = is_dense(mask) ? kDenseAxes : kExpertAxes;
      for (const auto& g : m.groups(mask)) {
        std::set<std::vector<int>> masked;
        for (int r : g) {
          std::vector<int> inside;
          for (Axis a : grid) {
            const bool varies = std::find(mask.begin(), mask.end(), a) != mask.end();
            if (varies) inside.push_back(m.coord(r, a));
            if (!varies) {
              ASSERT_EQ(m.coord(r, a), m.coord(g[0], a)) << axes_name(mask) << " " << axis_name(a);
            }
          }
          masked.insert(inside);
        }
        ASSERT_EQ(masked.size(), g.size()) << axes_name(mask);  // each masked coordinate combination once
      }
    }
  });
}

TEST(MeshProperties, TensorParallelRanksAreContiguousByDefault) {
  for_each_mesh([](const Layout& l, const DeviceMesh& m) {
    if (l.order != kDefaultMeshOrder) return;
    const Groups tp = m.groups({Axis::tp});
    for (size_t k = 0; k < tp.size(); ++k)
      for (int i = 0; i < l.sizes.tp; ++i) ASSERT_EQ(tp[k][i], static_cast<int>(k) * l.sizes.tp + i);
    const Groups etp = m.groups({Axis::etp});
    for (size_t k = 0; k < etp.size(); ++k)
      for (int i = 0; i < l.sizes.etp; ++i) ASSERT_EQ(etp[k][i], static_cast<int>(k) * l.sizes.etp + i);
  });
}

TEST(MeshProperties, ExpertAndDenseGridsShareThePipelineGroups) {
  for_each_mesh([](const Layout& l, const DeviceMesh& m) {
    // A pp group of the expert grid: ranks agreeing on etp, ep and edp.
    for (const auto& g : m.groups({Axis::pp})) {
      for (int r : g)
        for (Axis a : {Axis::etp, Axis::ep, Axis::edp}) ASSERT_EQ(m.coord(r, a), m.coord(g[0], a));
    }
    ASSERT_EQ(m.groups({Axis::pp}), reference_pp_groups(l.world, l.sizes, l.order, true));
    // And the model-parallel blocks of the two grids cover the same stages.
    for (int r = 0; r < l.world; ++r) ASSERT_EQ(m.coord(r, Axis::pp), m.coords(r).pp);
  });
}

TEST(MeshProperties, DataParallelZeroTakesTheRemainingRanks) {
  for_each_mesh([](const Layout& l, const DeviceMesh& m) {
    const int dp = l.world / (l.sizes.tp * l.sizes.cp * l.sizes.pp);
    ASSERT_EQ(m.size(Axis::dp), dp);
    ASSERT_EQ(m.size(Axis::edp), l.world / (l.sizes.etp * l.sizes.ep * l.sizes.pp));
    MeshSizes other = l.sizes;
    other.dp = l.sizes.dp == 0 ? dp : 0;
    const DeviceMesh twin(l.world, other, l.order);
    ASSERT_EQ(twin.size(Axis::dp), dp);
    for (const auto& mask : kMasks) ASSERT_EQ(twin.groups(mask), m.groups(mask));
  });
}

// Union of the `part` groups met by the members of g.
std::vector<int> union_of(const DeviceMesh& m, const std::vector<int>& g, const std::vector<Axis>& part) {
  std::set<int> u;
  for (int r : g)
    for (int x : m.group_of(r, part)) u.insert(x);
  return {u.begin(), u.end()};
}

TEST(MeshProperties, CombinedGroupsAreUnionsOfTheirParts) {
  for_each_mesh([](const Layout&, const DeviceMesh& m) {
    const std::vector<std::pair<std::vector<Axis>, std::vector<std::vector<Axis>>>> cases = {
        {{Axis::dp, Axis::cp}, {{Axis::dp}, {Axis::cp}}},
        {{Axis::tp, Axis::pp}, {{Axis::tp}, {Axis::pp}}},
        {{Axis::tp, Axis::dp, Axis::cp}, {{Axis::tp}, {Axis::dp, Axis::cp}, {Axis::tp, Axis::cp}}},
        {{Axis::tp, Axis::cp, Axis::dp, Axis::pp}, {{Axis::tp, Axis::pp}, {Axis::dp, Axis::cp}}},
        {{Axis::etp, Axis::ep}, {{Axis::etp}, {Axis::ep}}},
        {{Axis::ep, Axis::edp}, {{Axis::ep}, {Axis::edp}}},
    };
    for (const auto& [whole, parts] : cases)
      for (const auto& g : m.groups(whole))
        for (const auto& part : parts)
          ASSERT_EQ(union_of(m, g, part), g) << axes_name(whole) << " by " << axes_name(part);
    // All dense axes together, or all expert axes together: the whole world.
    ASSERT_EQ(m.groups(kDenseAxes).size(), 1u);
    ASSERT_EQ(m.groups(kExpertAxes).size(), 1u);
  });
}

TEST(MeshProperties, PipelineNeighboursAreConsistent) {
  for_each_mesh([](const Layout& l, const DeviceMesh& m) {
    const int pp = l.sizes.pp;
    for (int r = 0; r < l.world; ++r) {
      const int prev = m.prev_stage_rank(r), next = m.next_stage_rank(r);
      ASSERT_EQ(m.is_first_stage(r), prev == -1);
      ASSERT_EQ(m.is_last_stage(r), next == -1);
      if (prev != -1) {
        ASSERT_EQ(m.next_stage_rank(prev), r);
      }
      if (next != -1) {
        ASSERT_EQ(m.prev_stage_rank(next), r);
        ASSERT_EQ(m.coord(next, Axis::pp), m.coord(r, Axis::pp) + 1);
        ASSERT_EQ(m.group_of(next, {Axis::pp}), m.group_of(r, {Axis::pp}));
      }
      const int wprev = m.prev_stage_rank(r, StageEnds::wrap), wnext = m.next_stage_rank(r, StageEnds::wrap);
      ASSERT_EQ(m.next_stage_rank(wprev, StageEnds::wrap), r);
      ASSERT_EQ(m.prev_stage_rank(wnext, StageEnds::wrap), r);
      if (next != -1) {
        ASSERT_EQ(wnext, next);
      }
      if (prev != -1) {
        ASSERT_EQ(wprev, prev);
      }
      ASSERT_EQ(m.coord(wnext, Axis::pp), (m.coord(r, Axis::pp) + 1) % pp);
      // Walking pp steps forward around the ring comes back.
      int x = r;
      for (int s = 0; s < pp; ++s) x = m.next_stage_rank(x, StageEnds::wrap);
      ASSERT_EQ(x, r);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Refusals.

TEST(MeshErrors, MessagesNameTheNumbers) {
  EXPECT_EQ(error_of([] { DeviceMesh(6, {.tp = 4, .dp = 0}); }),
            "world size 6 is not divisible by tp (4) x cp (1) x pp (1) = 4");
  EXPECT_EQ(error_of([] { DeviceMesh(8, {.ep = 3, .dp = 0}); }),
            "expert grid: world 8 is not divisible by etp (1) x ep (3) x pp (1) = 3");
  EXPECT_EQ(error_of([] { DeviceMesh(8, {.tp = 2, .dp = 3}); }),
            "parallel.data = 3 but 8 ranks / (tp 2 x cp 1 x pp 1) = 4");
  EXPECT_EQ(error_of([] { DeviceMesh(12, {.tp = 2, .cp = 3, .dp = 0, .pp = 4}); }),
            "world size 12 is not divisible by tp (2) x cp (3) x pp (4) = 24");
  EXPECT_EQ(error_of([] { DeviceMesh(8, {.ep = 2, .dp = 0, .pp = 2, .etp = 4}); }),
            "expert grid: world 8 is not divisible by etp (4) x ep (2) x pp (2) = 16");
  EXPECT_EQ(error_of([] { DeviceMesh(8, {.tp = 0}); }), "tp must be at least 1, got 0");
  EXPECT_EQ(error_of([] { DeviceMesh(8, {.cp = -2, .dp = 0}); }), "cp must be at least 1, got -2");
  EXPECT_EQ(error_of([] { DeviceMesh(8, {.dp = -1}); }),
            "dp must be at least 1 (or 0: whatever ranks remain), got -1");
  EXPECT_EQ(error_of([] { DeviceMesh(0, {}); }), "world size must be at least 1, got 0");
  // Huge sizes do not overflow into a wrong answer.
  EXPECT_CONTAINS(error_of([] { DeviceMesh(8, {.tp = 1 << 30, .cp = 1 << 30, .dp = 0, .pp = 1 << 30}); }),
                  "world size 8 is not divisible by tp (1073741824)");
}

TEST(MeshErrors, OrderMustBeAPermutation) {
  EXPECT_EQ(
      error_of([] { DeviceMesh(8, {.dp = 0}, "tp-dp-pp"); }),
      "mesh order \"tp-dp-pp\" must be a permutation of tp, cp, ep, dp, pp joined by '-' (missing cp, ep)");
  EXPECT_CONTAINS(error_of([] { DeviceMesh(8, {.dp = 0}, "tp-cp-ep-dp-xx"); }), "unknown \"xx\"; missing pp");
  EXPECT_CONTAINS(error_of([] { DeviceMesh(8, {.dp = 0}, "tp-tp-cp-ep-dp-pp"); }), "repeated tp");
  EXPECT_CONTAINS(error_of([] { DeviceMesh(8, {.dp = 0}, ""); }), "missing tp, cp, ep, dp, pp");
  EXPECT_CONTAINS(error_of([] { DeviceMesh(8, {.dp = 0}, "tp,cp,ep,dp,pp"); }), "unknown \"tp,cp,ep,dp,pp\"");
  EXPECT_CONTAINS(error_of([] { DeviceMesh(8, {.dp = 0}, "TP-cp-ep-dp-pp"); }), "unknown \"TP\"");
  EXPECT_EQ(error_of([] { DeviceMesh(8, {.dp = 0}, "pp-dp-ep-cp-tp"); }), "");
}

TEST(MeshErrors, SeveralProblemsInOneMessage) {
  const std::string e = error_of([] { DeviceMesh(6, {.tp = 4, .ep = 4, .dp = 0}); });
  EXPECT_CONTAINS(e, "impossible mesh layout:\n  - ");
  EXPECT_CONTAINS(e, "world size 6 is not divisible by tp (4) x cp (1) x pp (1) = 4");
  EXPECT_CONTAINS(e, "expert grid: world 6 is not divisible by etp (1) x ep (4) x pp (1) = 4");
  const std::string e2 = error_of([] { DeviceMesh(8, {.tp = 0, .pp = -1}, "tp-dp"); });
  EXPECT_CONTAINS(e2, "tp must be at least 1, got 0");
  EXPECT_CONTAINS(e2, "pp must be at least 1, got -1");
  EXPECT_CONTAINS(e2, "(missing cp, ep, pp)");
}

TEST(MeshErrors, PipelineGroupsMustCoincide) {
  // pp between tp and ep: dense pp stride tp = 2, expert pp stride etp = 1.
  const std::string e =
      error_of([] { DeviceMesh(8, {.tp = 2, .ep = 2, .dp = 0, .pp = 2}, "tp-pp-cp-ep-dp"); });
  EXPECT_CONTAINS(e, "mesh order \"tp-pp-cp-ep-dp\": the expert grid's pipeline groups differ");
  EXPECT_CONTAINS(e, "[0 1] vs [0 2]");
  EXPECT_CONTAINS(e, "put pp first or last");
  // The same order is fine when tp = etp and cp = ep make the strides before pp agree.
  EXPECT_EQ(error_of([] { DeviceMesh(8, {.tp = 2, .dp = 0, .pp = 2, .etp = 2}, "tp-pp-cp-ep-dp"); }), "");
}

// Every combination of small sizes, valid or not: refused exactly when the layout is impossible, and then
// with the message for the reason.
TEST(MeshErrors, RefusesExactlyTheImpossibleLayouts) {
  int refused = 0, accepted = 0;
  for (const std::string order : {"tp-cp-ep-dp-pp", "tp-pp-dp-cp-ep", "pp-tp-cp-ep-dp"})
    for (int world = 1; world <= 24; ++world)
      for (int tp = 1; tp <= 4; ++tp)
        for (int cp = 1; cp <= 3; ++cp)
          for (int pp = 1; pp <= 4; ++pp)
            for (int ep = 1; ep <= 4; ++ep)
              for (int etp = 1; etp <= 2; ++etp)
                for (int dp = 0; dp <= 4; ++dp) {
                  const MeshSizes s{tp, cp, ep, dp, pp, etp};
                  SCOPED_TRACE(layout_name(world, s, order));
                  const bool dense_ok = world % (tp * cp * pp) == 0;
                  const bool dp_ok = dense_ok && (dp == 0 || dp == world / (tp * cp * pp));
                  const bool expert_ok = world % (etp * ep * pp) == 0;
                  const bool pp_ok = dp_ok && expert_ok &&
                                     reference_pp_groups(world, s, order, false) ==
                                         reference_pp_groups(world, s, order, true);
                  const std::string e = error_of([&] { DeviceMesh(world, s, order); });
                  if (pp_ok) {
                    ASSERT_EQ(e, "");
                    ++accepted;
                    continue;
                  }
                  ASSERT_NE(e, "");
                  ++refused;
                  if (!dense_ok) {
                    ASSERT_NE(e.find("is not divisible by tp (" + std::to_string(tp)), std::string::npos)
                        << e;
                  }
                  if (dense_ok && !dp_ok) {
                    ASSERT_NE(e.find("parallel.data = " + std::to_string(dp)), std::string::npos) << e;
                  }
                  if (!expert_ok) {
                    ASSERT_NE(e.find("expert grid: world " + std::to_string(world)), std::string::npos) << e;
                  }
                  if (dp_ok && expert_ok) {
                    ASSERT_NE(e.find("pipeline groups differ"), std::string::npos) << e;
                  }
                }
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(refused, 1000);
}

TEST(MeshErrors, GroupsMixingTheGridsAndBadRanks) {
  const DeviceMesh m(8, {.tp = 2, .ep = 2, .dp = 0});
  EXPECT_CONTAINS(error_of([&] {
                    m.groups({Axis::tp, Axis::ep});
                  }),
                  "mesh groups over tp-ep mix the dense grid (tp, cp, dp, pp) and the expert grid");
  EXPECT_CONTAINS(error_of([&] { m.group_of(0, {Axis::dp, Axis::edp}); }), "dp-edp mix");
  EXPECT_EQ(error_of([&] { m.coord(8, Axis::tp); }), "rank 8 is outside the mesh of world size 8");
  EXPECT_EQ(error_of([&] { m.next_stage_rank(-1); }), "rank -1 is outside the mesh of world size 8");
}

// ---------------------------------------------------------------------------------------------------------
// Names, config and printing.

TEST(MeshNames, AxesParseAndPrint) {
  EXPECT_EQ(parse_axes("dp-cp"), (std::vector<Axis>{Axis::dp, Axis::cp}));
  EXPECT_EQ(parse_axes("etp-ep-edp-pp"), kExpertAxes);
  EXPECT_EQ(axes_name({Axis::tp, Axis::dp, Axis::cp}), "tp-dp-cp");
  EXPECT_EQ(axes_name({}), "");
  EXPECT_EQ(error_of([] { parse_axes("dp-xp"); }),
            "unknown mesh axis \"xp\" in \"dp-xp\" (axes: tp, cp, ep, dp, pp, etp, edp, joined by '-')");
}

TEST(MeshConfig, SizesFromTheParallelSection) {
  config::Config c = default_config();
  MeshSizes s = mesh_sizes(c.parallel());
  EXPECT_EQ((std::vector<int>{s.tp, s.cp, s.ep, s.dp, s.pp, s.etp}), (std::vector<int>{1, 1, 1, 0, 1, 1}));
  EXPECT_EQ(c.parallel().order(), kDefaultMeshOrder);
  apply_overrides(c, {"parallel.tensor=2", "parallel.context=3", "parallel.expert=4", "parallel.data=5",
                      "parallel.pipeline=6", "parallel.expert_tensor=7"});
  s = mesh_sizes(c.parallel());
  EXPECT_EQ((std::vector<int>{s.tp, s.cp, s.ep, s.dp, s.pp, s.etp}), (std::vector<int>{2, 3, 4, 5, 6, 7}));
  const config::Config tiny = load_config(std::string(TRIDENT_SOURCE_DIR) + "/configs/gpt2_tiny.pbtxt");
  const DeviceMesh m(4, mesh_sizes(tiny.parallel()), tiny.parallel().order());
  EXPECT_EQ(m.size(Axis::dp), 4);
}

TEST(MeshPrint, DescribeAndTables) {
  const DeviceMesh m(8, {.tp = 2, .ep = 2, .dp = 0, .pp = 2});
  EXPECT_EQ(m.describe(),
            "world 8 = tp 2 x cp 1 x dp 2 x pp 2; experts: etp 1 x ep 2 x edp 2 x pp 2; order tp-cp-ep-dp-pp "
            "(first "
            "axis fastest)");
  const std::string table = m.rank_table();
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 9);
  EXPECT_CONTAINS(table, "rank   tp   cp   dp   pp   ep  etp  edp\n");
  EXPECT_CONTAINS(table, "   5    1    0    0    1    1    0    0\n");
  EXPECT_EQ(m.groups_table({Axis::tp}), "tp       4 groups of 2: [0 1] [2 3] [4 5] [6 7]\n");
  EXPECT_EQ(m.groups_table({Axis::tp, Axis::pp}), "tp-pp    2 groups of 4: [0 1 4 5] [2 3 6 7]\n");
  // Wrapped lines are indented under the first group.
  const DeviceMesh big(64, {.dp = 0});
  const std::string wrapped = big.groups_table({Axis::tp}, 60);
  EXPECT_CONTAINS(wrapped, "\n" + std::string(25, ' ') + "[");
  for (size_t start = 0, end; (end = wrapped.find('\n', start)) != std::string::npos; start = end + 1)
    EXPECT_LE(end - start, 60u);
  const std::string n = m.neighbour_table();
  EXPECT_EQ(std::count(n.begin(), n.end(), '\n'), 9);
  EXPECT_CONTAINS(n, "   1      0    -1     5            5            5\n");
}

}  // namespace
}  // namespace trident
