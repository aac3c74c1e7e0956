#include "train/node_setup.h"

#include <cstdlib>

#include "core/mesh/device_mesh.h"
#include "core/mesh/node_spans.h"
#include "core/runtime/gather_strings.h"
#include "core/runtime/logging.h"
#include "core/runtime/numerics_fingerprint.h"

namespace trident {

namespace {

constexpr size_t kFingerprintBytes = 1024;

std::string node_line(const RankPlacement& p, const ThreadChoice& t) {
  const NodeMap& m = p.nodes;
  const int node = m.node[p.rank];
  return fmt::format(
      "node: host {} (node {} of {}), {} local rank{}, {} core{} in its affinity mask{}, {} thread{} (from: "
      "{})",
      m.hosts[node], node, m.num_nodes(), m.local_size[p.rank], m.local_size[p.rank] == 1 ? "" : "s",
      p.mask_cores, p.mask_cores == 1 ? "" : "s",
      p.sharing_ranks > 1 ? fmt::format(" (shared by {} ranks)", p.sharing_ranks) : "", t.threads,
      t.threads == 1 ? "" : "s", thread_source_name(t.source));
}

}  // namespace

NodeSetup setup_nodes(const config::Config& cfg, comm::Communicator& world, Device device) {
  NodeSetup s;
  s.placement = exchange_placement(world);
  s.threads = choose_cpu_threads(cfg.runtime().threads(), std::getenv("OMP_NUM_THREADS"),
                                 s.placement.mask_cores, s.placement.sharing_ranks);
  set_cpu_threads(s.threads.threads);
  const bool main = world.rank() == 0;
  if (main) spdlog::info("{}", node_line(s.placement, s.threads));

  const DeviceMesh mesh(world.size(), mesh_sizes(cfg.parallel()), cfg.parallel().order());
  if (main)
    for (const std::string& w : spanning_warnings(groups_spanning_nodes(mesh, s.placement.nodes)))
      spdlog::warn("warning: {}", w);

  const std::string mine = fingerprint_text(numerics_settings(s.threads.threads, device.is_cpu()));
  const std::vector<std::string> all = all_gather_strings(world, mine, kFingerprintBytes);
  if (main) {
    const std::string w = numerics_mismatch_warning(all, s.placement.nodes);
    if (!w.empty()) spdlog::warn("warning: {}", w);
  }
  return s;
}

}  // namespace trident
