#pragma once
// Where each rank runs: its host and the cores it is bound to, exchanged once at start so that every rank
// knows the node map (which ranks share a node) and how many ranks share its cores.
//
// Test hook: TRIDENT_HOSTNAME, when set, replaces this process's host name, so one machine can play several
// nodes (mpirun -np 1 -x TRIDENT_HOSTNAME=node-a prog : -np 1 -x TRIDENT_HOSTNAME=node-b prog).
#include <cstdint>
#include <string>
#include <vector>

#include "core/comm/communicator.h"
#include "core/mesh/node_map.h"

namespace trident {

// This host's name: TRIDENT_HOSTNAME if set, else gethostname().
std::string host_name();

// An affinity mask as bits: core c is bit c % 32 of word c / 32 (cores 0..1023).
using CpuMask = std::vector<uint32_t>;
CpuMask affinity_mask();  // this process's (sched_getaffinity; every core when it cannot be read)
int mask_cores(const CpuMask& mask);

// How many ranks on `rank`'s node (itself included) are bound to at least one of its cores.
int ranks_sharing_cores(const std::vector<CpuMask>& masks, const NodeMap& nodes, int rank);

struct RankPlacement {
  NodeMap nodes;
  int rank = 0;
  int mask_cores = 1;     // cores in this rank's affinity mask
  int sharing_ranks = 1;  // ranks of this node whose masks overlap this rank's, itself included
};

// Every rank of `world` calls it together (two small all-gathers), before any other group is built.
RankPlacement exchange_placement(comm::Communicator& world);

}  // namespace trident
