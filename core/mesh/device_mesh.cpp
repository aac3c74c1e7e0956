#include "core/mesh/device_mesh.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/runtime/error.h"

namespace trident {
namespace {

constexpr Axis kAllAxes[kNumAxes] = {Axis::tp, Axis::cp, Axis::ep, Axis::dp, Axis::pp, Axis::etp, Axis::edp};
// Axes that may appear in the order string.
constexpr const char* kOrderNames[] = {"tp", "cp", "ep", "dp", "pp"};

bool contains(const std::vector<Axis>& axes, Axis a) {
  return std::find(axes.begin(), axes.end(), a) != axes.end();
}

bool on_dense_grid(Axis a) {
  return a == Axis::tp || a == Axis::cp || a == Axis::dp || a == Axis::pp;
}
bool on_expert_grid(Axis a) {
  return a == Axis::etp || a == Axis::ep || a == Axis::edp || a == Axis::pp;
}

// Sizes come from user input: keep their product from overflowing (anything past the world fails anyway).
int64_t product(std::initializer_list<int> sizes) {
  int64_t p = 1;
  for (int s : sizes)
    p = p > std::numeric_limits<int64_t>::max() / s ? std::numeric_limits<int64_t>::max() : p * s;
  return p;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// The problem with an order string, or "" when it is a permutation of tp, cp, ep, dp, pp.
std::string order_problem(const std::string& order) {
  std::vector<std::string> unknown, repeated, missing;
  const std::vector<std::string> names = split(order, '-');
  for (const std::string& n : names) {
    if (std::find(std::begin(kOrderNames), std::end(kOrderNames), n) == std::end(kOrderNames))
      unknown.push_back(fmt::format("\"{}\"", n));
    else if (std::count(names.begin(), names.end(), n) > 1 &&
             std::find(repeated.begin(), repeated.end(), n) == repeated.end())
      repeated.push_back(n);
  }
  for (const char* n : kOrderNames)
    if (std::find(names.begin(), names.end(), n) == names.end()) missing.push_back(n);
  if (unknown.empty() && repeated.empty() && missing.empty()) return "";
  std::vector<std::string> why;
  if (!unknown.empty()) why.push_back("unknown " + join(unknown, ", "));
  if (!repeated.empty()) why.push_back("repeated " + join(repeated, ", "));
  if (!missing.empty()) why.push_back("missing " + join(missing, ", "));
  return fmt::format("mesh order \"{}\" must be a permutation of tp, cp, ep, dp, pp joined by '-' ({})",
                     order, join(why, "; "));
}

std::string group_text(const std::vector<int>& g) {
  // fmt::join, not "[" + std::string: GCC 12 warns (-Wrestrict) on that operator+ once it is inlined.
  return fmt::format("[{}]", fmt::join(g, " "));
}

}  // namespace

MeshSizes mesh_sizes(const config::ParallelConfig& p) {
  MeshSizes s;
  s.tp = p.tensor();
  s.cp = p.context();
  s.ep = p.expert();
  s.dp = p.data();
  s.pp = p.pipeline();
  s.etp = p.expert_tensor();
  return s;
}

const char* axis_name(Axis a) {
  switch (a) {
    case Axis::tp:
      return "tp";
    case Axis::cp:
      return "cp";
    case Axis::ep:
      return "ep";
    case Axis::dp:
      return "dp";
    case Axis::pp:
      return "pp";
    case Axis::etp:
      return "etp";
    case Axis::edp:
      return "edp";
  }
  return "?";
}

std::vector<Axis> parse_axes(const std::string& names) {
  std::vector<Axis> axes;
  for (const std::string& n : split(names, '-')) {
    const Axis* a =
        std::find_if(std::begin(kAllAxes), std::end(kAllAxes), [&](Axis x) { return n == axis_name(x); });
    if (a == std::end(kAllAxes))
      fail("unknown mesh axis \"{}\" in \"{}\" (axes: tp, cp, ep, dp, pp, etp, edp, joined by '-')", n,
           names);
    axes.push_back(*a);
  }
  return axes;
}

std::string axes_name(const std::vector<Axis>& axes) {
  std::vector<std::string> names;
  for (Axis a : axes) names.push_back(axis_name(a));
  return join(names, "-");
}

int MeshCoords::operator[](Axis a) const {
  return const_cast<MeshCoords&>(*this)[a];
}

int& MeshCoords::operator[](Axis a) {
  switch (a) {
    case Axis::tp:
      return tp;
    case Axis::cp:
      return cp;
    case Axis::ep:
      return ep;
    case Axis::dp:
      return dp;
    case Axis::pp:
      return pp;
    case Axis::etp:
      return etp;
    case Axis::edp:
      return edp;
  }
  return tp;
}

int DeviceMesh::Grid::index(Axis a) const {
  auto it = std::find(axes.begin(), axes.end(), a);
  return it == axes.end() ? -1 : static_cast<int>(it - axes.begin());
}

DeviceMesh::DeviceMesh(int world_size, MeshSizes sizes, const std::string& order)
    : world_(world_size), sizes_(sizes), edp_(0), order_(order) {
  // Every problem that can be told apart goes into one message; later checks need the earlier ones to pass.
  std::vector<std::string> problems;
  if (world_size < 1) problems.push_back(fmt::format("world size must be at least 1, got {}", world_size));
  for (auto [name, v] :
       {std::pair{"tp", sizes.tp}, {"cp", sizes.cp}, {"ep", sizes.ep}, {"pp", sizes.pp}, {"etp", sizes.etp}})
    if (v < 1) problems.push_back(fmt::format("{} must be at least 1, got {}", name, v));
  if (sizes.dp < 0)
    problems.push_back(fmt::format("dp must be at least 1 (or 0: whatever ranks remain), got {}", sizes.dp));
  if (std::string why = order_problem(order); !why.empty()) problems.push_back(why);

  if (problems.empty()) {
    // Dense grid: tp x cp x dp x pp; dp takes whatever ranks remain when 0.
    const int64_t model = product({sizes.tp, sizes.cp, sizes.pp});
    if (world_size % model != 0) {
      problems.push_back(fmt::format("world size {} is not divisible by tp ({}) x cp ({}) x pp ({}) = {}",
                                     world_size, sizes.tp, sizes.cp, sizes.pp, model));
    } else if (sizes.dp != 0 && sizes.dp != world_size / model) {
      problems.push_back(fmt::format("parallel.data = {} but {} ranks / (tp {} x cp {} x pp {}) = {}",
                                     sizes.dp, world_size, sizes.tp, sizes.cp, sizes.pp, world_size / model));
    }
    // Expert grid: etp x ep x edp x pp over the same ranks (experts replace attention's cp x dp by ep x edp).
    const int64_t expert_model = product({sizes.etp, sizes.ep, sizes.pp});
    if (world_size % expert_model != 0)
      problems.push_back(
          fmt::format("expert grid: world {} is not divisible by etp ({}) x ep ({}) x pp ({}) = {}",
                      world_size, sizes.etp, sizes.ep, sizes.pp, expert_model));
  }
  if (problems.size() == 1) throw Error(problems[0]);
  if (!problems.empty()) throw Error("impossible mesh layout:\n  - " + join(problems, "\n  - "));

  sizes_.dp = world_size / (sizes.tp * sizes.cp * sizes.pp);
  edp_ = world_size / (sizes.etp * sizes.ep * sizes.pp);
  for (const std::string& name : split(order, '-')) {
    const Axis a = parse_axes(name)[0];
    if (a != Axis::ep) {
      dense_.axes.push_back(a);
      dense_.sizes.push_back(size(a));
    }
    if (a != Axis::cp) {
      const Axis e = a == Axis::tp ? Axis::etp : a == Axis::dp ? Axis::edp : a;
      expert_.axes.push_back(e);
      expert_.sizes.push_back(size(e));
    }
  }
  for (Grid* g : {&dense_, &expert_}) {
    int stride = 1;
    for (int s : g->sizes) {
      g->strides.push_back(stride);
      stride *= s;
    }
  }

  // Megatron's rule: a pipeline stage must hold the same ranks for dense layers and experts, or the
  // stage-to-stage sends of one would cross the other's groups.
  const auto dense_pp = masked_groups(dense_, world_, {Axis::pp});
  const auto expert_pp = masked_groups(expert_, world_, {Axis::pp});
  if (dense_pp != expert_pp) {
    size_t i = 0;
    while (dense_pp[i] == expert_pp[i]) ++i;
    fail(
        "mesh order \"{}\": the expert grid's pipeline groups differ from the dense grid's (e.g. {} vs {}); "
        "put pp first or last in the order",
        order, group_text(expert_pp[i]), group_text(dense_pp[i]));
  }
}

int DeviceMesh::size(Axis a) const {
  switch (a) {
    case Axis::tp:
      return sizes_.tp;
    case Axis::cp:
      return sizes_.cp;
    case Axis::ep:
      return sizes_.ep;
    case Axis::dp:
      return sizes_.dp;
    case Axis::pp:
      return sizes_.pp;
    case Axis::etp:
      return sizes_.etp;
    case Axis::edp:
      return edp_;
  }
  return 1;
}

void DeviceMesh::check_rank(int rank) const {
  if (rank < 0 || rank >= world_) fail("rank {} is outside the mesh of world size {}", rank, world_);
}

int DeviceMesh::coord(int rank, Axis a) const {
  check_rank(rank);
  const Grid& g = on_dense_grid(a) ? dense_ : expert_;
  const int i = g.index(a);
  return rank / g.strides[i] % g.sizes[i];
}

MeshCoords DeviceMesh::coords(int rank) const {
  MeshCoords c;
  for (Axis a : kAllAxes) c[a] = coord(rank, a);
  return c;
}

int DeviceMesh::dense_rank(const MeshCoords& c) const {
  int rank = 0;
  for (size_t i = 0; i < dense_.axes.size(); ++i) {
    TRIDENT_CHECK(c[dense_.axes[i]] >= 0 && c[dense_.axes[i]] < dense_.sizes[i], "{} coordinate {} of {}",
                  axis_name(dense_.axes[i]), c[dense_.axes[i]], dense_.sizes[i]);
    rank += c[dense_.axes[i]] * dense_.strides[i];
  }
  return rank;
}

int DeviceMesh::expert_rank(const MeshCoords& c) const {
  int rank = 0;
  for (size_t i = 0; i < expert_.axes.size(); ++i) {
    TRIDENT_CHECK(c[expert_.axes[i]] >= 0 && c[expert_.axes[i]] < expert_.sizes[i], "{} coordinate {} of {}",
                  axis_name(expert_.axes[i]), c[expert_.axes[i]], expert_.sizes[i]);
    rank += c[expert_.axes[i]] * expert_.strides[i];
  }
  return rank;
}

const DeviceMesh::Grid& DeviceMesh::grid_for(const std::vector<Axis>& axes) const {
  if (std::all_of(axes.begin(), axes.end(), on_dense_grid)) return dense_;
  if (std::all_of(axes.begin(), axes.end(), on_expert_grid)) return expert_;
  fail("mesh groups over {} mix the dense grid (tp, cp, dp, pp) and the expert grid (etp, ep, edp, pp)",
       axes_name(axes));
}

// Ranks whose coordinates agree outside `axes` form one group. Indexing a group by its mixed-radix
// coordinates over `axes` (in grid order) and the groups by the remaining coordinates keeps both sorted:
// a slower axis' stride exceeds the largest rank offset all the faster axes together can add.
std::vector<std::vector<int>> DeviceMesh::masked_groups(const Grid& g, int world,
                                                        const std::vector<Axis>& axes) {
  int group_size = 1;
  for (size_t i = 0; i < g.axes.size(); ++i)
    if (contains(axes, g.axes[i])) group_size *= g.sizes[i];
  std::vector<std::vector<int>> groups(world / group_size, std::vector<int>(group_size));
  for (int rank = 0; rank < world; ++rank) {
    int inner = 0, inner_radix = 1, outer = 0, outer_radix = 1;
    for (size_t i = 0; i < g.axes.size(); ++i) {
      const int c = rank / g.strides[i] % g.sizes[i];
      if (contains(axes, g.axes[i])) {
        inner += c * inner_radix;
        inner_radix *= g.sizes[i];
      } else {
        outer += c * outer_radix;
        outer_radix *= g.sizes[i];
      }
    }
    groups[outer][inner] = rank;
  }
  return groups;
}

std::vector<std::vector<int>> DeviceMesh::groups(const std::vector<Axis>& axes) const {
  return masked_groups(grid_for(axes), world_, axes);
}

std::vector<int> DeviceMesh::group_of(int rank, const std::vector<Axis>& axes) const {
  check_rank(rank);
  const Grid& g = grid_for(axes);
  // Start from the group's first rank (the masked coordinates zeroed), then add every masked offset.
  std::vector<int> group = {rank};
  for (size_t i = 0; i < g.axes.size(); ++i)
    if (contains(axes, g.axes[i])) group[0] -= rank / g.strides[i] % g.sizes[i] * g.strides[i];
  for (size_t i = 0; i < g.axes.size(); ++i) {
    if (!contains(axes, g.axes[i])) continue;
    const size_t n = group.size();
    for (int c = 1; c < g.sizes[i]; ++c)
      for (size_t j = 0; j < n; ++j) group.push_back(group[j] + c * g.strides[i]);
  }
  std::sort(group.begin(), group.end());
  return group;
}

int DeviceMesh::prev_stage_rank(int rank, StageEnds ends) const {
  const int stage = coord(rank, Axis::pp), stride = dense_.strides[dense_.index(Axis::pp)];
  if (stage > 0) return rank - stride;
  return ends == StageEnds::wrap ? rank + (sizes_.pp - 1) * stride : -1;
}

int DeviceMesh::next_stage_rank(int rank, StageEnds ends) const {
  const int stage = coord(rank, Axis::pp), stride = dense_.strides[dense_.index(Axis::pp)];
  if (stage < sizes_.pp - 1) return rank + stride;
  return ends == StageEnds::wrap ? rank - stage * stride : -1;
}

std::string DeviceMesh::describe() const {
  return fmt::format(
      "world {} = tp {} x cp {} x dp {} x pp {}; experts: etp {} x ep {} x edp {} x pp {}; order {} (first "
      "axis "
      "fastest)",
      world_, sizes_.tp, sizes_.cp, sizes_.dp, sizes_.pp, sizes_.etp, sizes_.ep, edp_, sizes_.pp, order_);
}

std::string DeviceMesh::rank_table() const {
  const int w = std::max<int>(3, static_cast<int>(std::to_string(world_ - 1).size()));
  constexpr Axis columns[] = {Axis::tp, Axis::cp, Axis::dp, Axis::pp, Axis::ep, Axis::etp, Axis::edp};
  std::string out = fmt::format("{:>{}}", "rank", w + 1);
  for (Axis a : columns) out += fmt::format("  {:>{}}", axis_name(a), w);
  out += "\n";
  for (int r = 0; r < world_; ++r) {
    out += fmt::format("{:>{}}", r, w + 1);
    for (Axis a : columns) out += fmt::format("  {:>{}}", coord(r, a), w);
    out += "\n";
  }
  return out;
}

std::string DeviceMesh::groups_table(const std::vector<Axis>& axes, int width) const {
  const auto gs = groups(axes);
  std::string line = fmt::format("{:<9}{} group{} of {}:", axes_name(axes), gs.size(),
                                 gs.size() == 1 ? "" : "s", gs[0].size());
  const size_t indent = line.size() + 1;
  std::string out;
  for (const auto& g : gs) {
    const std::string text = group_text(g);
    if (line.size() + 1 + text.size() > static_cast<size_t>(width) && line.size() > indent) {
      out += line + "\n";
      line = std::string(indent - 1, ' ');
    }
    line += " " + text;
  }
  return out + line + "\n";
}

std::string DeviceMesh::neighbour_table() const {
  const int w = std::max<int>(4, static_cast<int>(std::to_string(world_ - 1).size()));
  std::string out = fmt::format("{:>{}}  {:>5}  {:>{}}  {:>{}}  {:>{}}  {:>{}}\n", "rank", w, "stage", "prev",
                                w, "next", w, "prev (wrap)", 11, "next (wrap)", 11);
  for (int r = 0; r < world_; ++r)
    out += fmt::format("{:>{}}  {:>5}  {:>{}}  {:>{}}  {:>{}}  {:>{}}\n", r, w, coord(r, Axis::pp),
                       prev_stage_rank(r), w, next_stage_rank(r), w, prev_stage_rank(r, StageEnds::wrap), 11,
                       next_stage_rank(r, StageEnds::wrap), 11);
  return out;
}

DeviceMesh::HybridGroups DeviceMesh::hybrid_groups(int rank, int shard_size) const {
  const std::vector<int> dp = group_of(rank, {Axis::dp, Axis::cp});
  const int n = static_cast<int>(dp.size());
  if (shard_size < 1 || n % shard_size != 0)
    fail("ZeRO shard size {} does not divide the data-parallel group of {}", shard_size, n);
  const int at = static_cast<int>(std::find(dp.begin(), dp.end(), rank) - dp.begin());
  HybridGroups out;
  for (int i = at / shard_size * shard_size; i < (at / shard_size + 1) * shard_size; ++i)
    out.shard.push_back(dp[i]);
  for (int i = at % shard_size; i < n; i += shard_size) out.replica.push_back(dp[i]);
  return out;
}

}  // namespace trident
