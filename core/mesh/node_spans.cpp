#include "core/mesh/node_spans.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "core/runtime/error.h"

namespace trident {

namespace {

// Groups named in full before "and N more": a warning stays one readable line on a large job.
constexpr size_t kNamedGroups = 4;

const char* axis_title(Axis a) {
  return a == Axis::ep ? "expert-parallel" : a == Axis::etp ? "expert tensor-parallel" : "tensor-parallel";
}

const char* why_inside(Axis a) {
  return a == Axis::ep ? "its all-to-all carries every token of every MoE layer and belongs inside a node"
                       : "tp traffic is the heaviest and belongs inside a node";
}

}  // namespace

std::string SpanningGroup::name() const {
  return fmt::format("{}[{}]", axis_name(axis), fmt::join(ranks, ","));
}

std::vector<SpanningGroup> groups_spanning_nodes(const DeviceMesh& mesh, const NodeMap& nodes) {
  TRIDENT_CHECK(nodes.world_size() == mesh.world_size(), "node map of {} ranks for a mesh of {}",
                nodes.world_size(), mesh.world_size());
  std::vector<SpanningGroup> spanning;
  for (const Axis axis : {Axis::tp, Axis::etp, Axis::ep}) {
    for (const std::vector<int>& ranks : mesh.groups({axis})) {
      std::set<int> touched;
      for (const int r : ranks) touched.insert(nodes.node[r]);
      if (touched.size() < 2) continue;
      SpanningGroup g{axis, ranks, {}};
      for (const int n : touched) g.hosts.push_back(nodes.hosts[n]);
      spanning.push_back(std::move(g));
    }
  }
  return spanning;
}

std::vector<std::string> spanning_warnings(const std::vector<SpanningGroup>& groups) {
  std::vector<std::string> lines;
  for (const Axis axis : {Axis::tp, Axis::etp, Axis::ep}) {
    std::vector<std::string> names;
    std::set<std::string> hosts;
    for (const SpanningGroup& g : groups) {
      if (g.axis != axis) continue;
      names.push_back(g.name());
      hosts.insert(g.hosts.begin(), g.hosts.end());
    }
    if (names.empty()) continue;
    const size_t n = names.size();
    std::string named =
        fmt::format("{}", fmt::join(names.begin(), names.begin() + std::min(n, kNamedGroups), ", "));
    if (n > kNamedGroups) named += fmt::format(" and {} more", n - kNamedGroups);
    lines.push_back(fmt::format(
        "{} group{} {} span{} nodes {}: {}; launch with --map-by slot (ranks filled node by node) or reorder "
        "parallel.order",
        axis_title(axis), n == 1 ? "" : "s", named, n == 1 ? "s" : "", fmt::join(hosts, ", "),
        why_inside(axis)));
  }
  return lines;
}

}  // namespace trident
