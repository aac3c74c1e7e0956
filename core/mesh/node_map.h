#pragma once
// NodeMap: which node (host) each rank runs on. Training builds it from the host names the ranks exchange at
// start (train/node_setup.h); `trident topo --ranks-per-node K` builds it from how mpirun places ranks.
//
//   4 ranks on hosts a, b, a, b   ->  node 0 "a": ranks 0 2,  node 1 "b": ranks 1 3
#include <cstdint>
#include <string>
#include <vector>

namespace trident {

// How mpirun assigns ranks to nodes: by slot (--map-by slot or core, its default: node 0 filled first, then
// node 1, ...) or by node (--map-by node: rank r on node r % nodes, round robin).
enum class NodeMapping : uint8_t { slot, node };

struct NodeMap {
  std::vector<std::string> hosts;  // node index -> host name; nodes numbered in order of their first rank
  std::vector<int> node;           // rank -> node index
  std::vector<int> local_rank;     // rank -> its place among the ranks of its node
  std::vector<int> local_size;     // rank -> how many ranks its node holds

  int world_size() const { return static_cast<int>(node.size()); }
  int num_nodes() const { return static_cast<int>(hosts.size()); }
  // The ranks on node n, ascending.
  std::vector<int> ranks_on(int n) const;
  // "node 0 (a): ranks 0 2\nnode 1 (b): ranks 1 3\n"
  std::string table() const;

  // From each rank's host name (host_of_rank[r] for rank r).
  static NodeMap from_hosts(const std::vector<std::string>& host_of_rank);
  // `world` ranks placed by mpirun on world / per_node nodes named node-0, node-1, ... Throws trident::Error
  // unless per_node >= 1 divides world.
  static NodeMap placed(int world, int per_node, NodeMapping mapping);
};

}  // namespace trident
