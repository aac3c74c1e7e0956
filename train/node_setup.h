#pragma once
// Training's start on many nodes: the ranks exchange where they run (host, affinity mask), each sets its CPU
// thread count from that (core/runtime/threads.h), and rank 0 logs this rank-0 node's line and warns when
// the layout or the numerics do not suit the nodes:
//
//   node: host gpu-a (node 0 of 2), 2 local ranks, 1 cores in its affinity mask, 1 threads (from: affinity)
//   warning: tensor-parallel group tp[0,2] spans nodes gpu-a, gpu-b: ...   (core/mesh/node_spans.h)
//   warning: ranks run with different settings that change arithmetic ...  (numerics_fingerprint.h)
#include "core/comm/communicator.h"
#include "core/config/trident.pb.h"
#include "core/runtime/rank_placement.h"
#include "core/runtime/threads.h"
#include "core/tensor/device.h"

namespace trident {

struct NodeSetup {
  RankPlacement placement;
  ThreadChoice threads;
};

// Every rank of `world` calls it together, before any other group is built (three small all-gathers).
// cfg must be resolved for world.size() ranks; device: where this rank computes.
NodeSetup setup_nodes(const config::Config& cfg, comm::Communicator& world, Device device);

}  // namespace trident
