#include "core/mesh/node_map.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "core/runtime/error.h"

namespace trident {

std::vector<int> NodeMap::ranks_on(int n) const {
  std::vector<int> ranks;
  for (int r = 0; r < world_size(); ++r)
    if (node[r] == n) ranks.push_back(r);
  return ranks;
}

std::string NodeMap::table() const {
  std::string text;
  for (int n = 0; n < num_nodes(); ++n)
    text += fmt::format("node {} ({}): ranks {}\n", n, hosts[n], fmt::join(ranks_on(n), " "));
  return text;
}

NodeMap NodeMap::from_hosts(const std::vector<std::string>& host_of_rank) {
  NodeMap m;
  std::map<std::string, int> index;
  for (const std::string& h : host_of_rank) {
    const auto [it, added] = index.emplace(h, m.num_nodes());
    if (added) m.hosts.push_back(h);
    m.node.push_back(it->second);
  }
  std::vector<int> count(m.hosts.size(), 0);
  for (const int n : m.node) m.local_rank.push_back(count[n]++);
  for (const int n : m.node) m.local_size.push_back(count[n]);
  return m;
}

NodeMap NodeMap::placed(int world, int per_node, NodeMapping mapping) {
  if (per_node < 1) fail("--ranks-per-node must be at least 1, got {}", per_node);
  if (world % per_node != 0)
    fail("--ranks-per-node {} does not divide the world size {}: every node must hold as many ranks",
         per_node, world);
  const int nodes = world / per_node;
  std::vector<std::string> hosts;
  for (int r = 0; r < world; ++r)
    hosts.push_back(fmt::format("node-{}", mapping == NodeMapping::slot ? r / per_node : r % nodes));
  return from_hosts(hosts);
}

}  // namespace trident
