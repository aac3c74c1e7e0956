#pragma once
// Groups that span nodes. Tensor-parallel groups (tp, and etp inside the expert grid) exchange activations
// in every layer, forward and backward, and expert-parallel groups (ep) send every token of every MoE layer
// through an all-to-all: the heaviest traffic of a step, which belongs on a node's own links rather than the
// network between nodes. The default order (tp first, fastest) keeps them inside a node when mpirun fills
// nodes by slot; --map-by node or an order with tp last spreads them.
#include <string>
#include <vector>

#include "core/mesh/device_mesh.h"
#include "core/mesh/node_map.h"

namespace trident {

struct SpanningGroup {
  Axis axis = Axis::tp;            // tp, etp or ep
  std::vector<int> ranks;          // ascending
  std::vector<std::string> hosts;  // the nodes it touches, in node order
  std::string name() const;        // "tp[0,2]", as the group's communicator is named
};

// Every tp, etp and ep group of the mesh whose ranks sit on more than one node (nodes.world_size() must be
// the mesh's), tp groups first.
std::vector<SpanningGroup> groups_spanning_nodes(const DeviceMesh& mesh, const NodeMap& nodes);

// One line per axis that has spanning groups, naming them and their nodes and saying how to keep them
// inside a node, e.g. "tensor-parallel group tp[0,2] spans nodes node-a, node-b: tp traffic is ...".
std::vector<std::string> spanning_warnings(const std::vector<SpanningGroup>& groups);

}  // namespace trident
