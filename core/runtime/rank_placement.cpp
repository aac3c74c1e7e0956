#include "core/runtime/rank_placement.h"

#include <sched.h>
#include <unistd.h>

#include <bit>
#include <cstdlib>
#include <cstring>

#include "core/runtime/gather_strings.h"

namespace trident {

namespace {

constexpr int kMaskWords = 1024 / 32;
constexpr size_t kHostBytes = 256;  // a host name is at most 255 bytes (POSIX HOST_NAME_MAX on Linux: 64)

}  // namespace

std::string host_name() {
  if (const char* fake = std::getenv("TRIDENT_HOSTNAME"); fake != nullptr && *fake != '\0') return fake;
  char name[kHostBytes] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

CpuMask affinity_mask() {
  CpuMask mask(kMaskWords, 0);
  cpu_set_t set;
  CPU_ZERO(&set);
  const bool known = sched_getaffinity(0, sizeof(set), &set) == 0;
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  for (int c = 0; c < kMaskWords * 32; ++c) {
    if (known ? CPU_ISSET(c, &set) : c < online) mask[c / 32] |= 1u << (c % 32);
  }
  return mask;
}

int mask_cores(const CpuMask& mask) {
  int n = 0;
  for (const uint32_t w : mask) n += std::popcount(w);
  return n;
}

int ranks_sharing_cores(const std::vector<CpuMask>& masks, const NodeMap& nodes, int rank) {
  int sharing = 0;
  for (const int r : nodes.ranks_on(nodes.node[rank])) {
    bool overlap = false;
    for (size_t w = 0; w < masks[rank].size() && w < masks[r].size(); ++w)
      overlap |= (masks[r][w] & masks[rank][w]) != 0;
    sharing += overlap || r == rank;
  }
  return sharing;
}

RankPlacement exchange_placement(comm::Communicator& world) {
  RankPlacement p;
  p.rank = world.rank();
  p.nodes = NodeMap::from_hosts(all_gather_strings(world, host_name(), kHostBytes));
  const CpuMask mine = affinity_mask();
  Tensor in = Tensor::empty({kMaskWords}, DType::u32);
  std::memcpy(in.data<uint32_t>(), mine.data(), kMaskWords * sizeof(uint32_t));
  Tensor all = Tensor::empty({int64_t{kMaskWords} * world.size()}, DType::u32);
  world.all_gather(all, in);
  std::vector<CpuMask> masks;
  for (int r = 0; r < world.size(); ++r) {
    const uint32_t* w = all.data<uint32_t>() + r * kMaskWords;
    masks.emplace_back(w, w + kMaskWords);
  }
  p.mask_cores = mask_cores(mine);
  p.sharing_ranks = ranks_sharing_cores(masks, p.nodes, p.rank);
  return p;
}

}  // namespace trident
