// trident topo: the rank layout a config gives on N ranks — coordinates, every group, pipeline neighbours.
// Nothing is launched; the same DeviceMesh is what training builds its communicators from.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/mesh/device_mesh.h"
#include "core/mesh/node_map.h"
#include "core/mesh/node_spans.h"
#include "core/runtime/error.h"
#include "tools/cli/commands.h"
#include "tools/cli/config_args.h"

namespace trident::cli {
namespace {

struct TopoArgs {
  ConfigArgs config;
  int world = 0;
  int rank = 0;
  bool one_rank = false;  // --rank given
  int ranks_per_node = 0;
  bool show_nodes = false;  // --ranks-per-node given
  std::string map_by = "slot";
};

// The group kinds training uses: dense tp/cp/dp/pp, dp-cp (dense gradient reduction), tp-pp (one model
// replica), and on the expert grid ep (token all-to-all), edp (expert gradient reduction), etp.
const std::vector<std::vector<Axis>> kGroupKinds = {{Axis::tp}, {Axis::cp},           {Axis::dp},
                                                    {Axis::pp}, {Axis::dp, Axis::cp}, {Axis::tp, Axis::pp},
                                                    {Axis::ep}, {Axis::edp},          {Axis::etp}};

void print_rank(const DeviceMesh& mesh, int rank) {
  const MeshCoords c = mesh.coords(rank);
  fmt::print("rank {}: tp {} cp {} dp {} pp {} | ep {} etp {} edp {}\n", rank, c.tp, c.cp, c.dp, c.pp, c.ep,
             c.etp, c.edp);
  for (const auto& axes : kGroupKinds) {
    fmt::print("  {:<8} [{}]\n", axes_name(axes), fmt::join(mesh.group_of(rank, axes), " "));
  }
  fmt::print("  pipeline stage {} of {}: prev {}, next {} (wrapping: prev {}, next {})\n", c.pp,
             mesh.size(Axis::pp), mesh.prev_stage_rank(rank), mesh.next_stage_rank(rank),
             mesh.prev_stage_rank(rank, StageEnds::wrap), mesh.next_stage_rank(rank, StageEnds::wrap));
}

// Hybrid ZeRO sharding: the shard groups (state split over them) and replica groups (gradients averaged
// across them), when parallel.zero_shard_size cuts the data-parallel groups.
void print_hybrid(const DeviceMesh& mesh, const config::ParallelConfig& par, int world) {
  const int k = par.zero_shard_size();
  if (par.zero_stage() == 0 || k <= 0 || k >= static_cast<int>(mesh.group_of(0, {Axis::dp, Axis::cp}).size()))
    return;
  std::set<std::vector<int>> shards, replicas;
  for (int r = 0; r < world; ++r) {
    const DeviceMesh::HybridGroups h = mesh.hybrid_groups(r, k);
    shards.insert(h.shard);
    replicas.insert(h.replica);
  }
  const auto line = [](const char* name, const std::set<std::vector<int>>& groups) {
    std::string text = fmt::format("{:<13}{} groups of {}:", name, groups.size(), groups.begin()->size());
    for (const auto& g : groups) text += fmt::format(" [{}]", fmt::join(g, " "));
    fmt::print("{}\n", text);
  };
  fmt::print("\nZeRO stage {} hybrid sharding (parallel.zero_shard_size {}):\n", par.zero_stage(), k);
  line("zero shard", shards);
  line("zero replica", replicas);
}

// Mixture of experts: which blocks hold experts and how many each expert-parallel rank holds.
void print_moe(const DeviceMesh& mesh, const config::ModelConfig& m) {
  const config::MoeConfig& moe = m.moe();
  if (moe.num_experts() <= 0) return;
  std::vector<int> blocks;
  for (int l = 0; l < m.n_layer(); ++l)
    if (l % std::max(moe.every(), 1) == 0) blocks.push_back(l);
  const int ep = mesh.size(Axis::ep);
  const int per_rank = moe.num_experts() / ep;
  fmt::print(
      "\nMoE: {} experts (top {}) in blocks [{}]; {} per expert-parallel rank (ep rank r holds experts [{} "
      "r, {} r "
      "+ {})); tokens travel over the ep groups, expert gradients are summed over the edp groups\n",
      moe.num_experts(), moe.top_k(), fmt::join(blocks, " "), per_rank, per_rank, per_rank, per_rank);
}

// Which ranks sit on which node as mpirun places them, and every tp / etp / ep group that spans nodes.
// With --rank, only the groups that hold it.
void print_nodes(const DeviceMesh& mesh, const NodeMap& nodes, const TopoArgs& args) {
  std::vector<SpanningGroup> spanning = groups_spanning_nodes(mesh, nodes);
  if (args.one_rank) {
    const int r = args.rank;
    fmt::print("  node {} ({}), local rank {} of {}\n", nodes.node[r], nodes.hosts[nodes.node[r]],
               nodes.local_rank[r], nodes.local_size[r]);
    std::erase_if(spanning, [r](const SpanningGroup& g) { return !std::ranges::binary_search(g.ranks, r); });
  } else {
    fmt::print("\nnodes: {} of {} ranks (mpirun --map-by {}):\n{}", nodes.num_nodes(), args.ranks_per_node,
               args.map_by, nodes.table());
  }
  const std::vector<std::string> warnings = spanning_warnings(spanning);
  if (warnings.empty())
    fmt::print("every tp, etp and ep group{} stays inside one node\n", args.one_rank ? " of this rank" : "");
  for (const std::string& w : warnings) fmt::print("SPANS NODES: {}\n", w);
}

void run_topo(const TopoArgs& args) {
  if (args.world < 1) fail("--world must be at least 1, got {}", args.world);
  // Not validate(): it refuses the parallel sizes training does not run yet; the mesh checks the layout.
  config::Config cfg = args.config.parse();
  resolve(cfg, args.world);
  const DeviceMesh mesh(args.world, mesh_sizes(cfg.parallel()), cfg.parallel().order());
  if (args.one_rank && (args.rank < 0 || args.rank >= args.world))
    fail("--rank {} is outside world size {}", args.rank, args.world);
  const bool show_nodes = args.show_nodes;
  const NodeMap nodes = show_nodes
                            ? NodeMap::placed(args.world, args.ranks_per_node,
                                              args.map_by == "node" ? NodeMapping::node : NodeMapping::slot)
                            : NodeMap{};

  fmt::print("{}\n", mesh.describe());
  if (args.one_rank) {
    print_rank(mesh, args.rank);
    if (show_nodes) print_nodes(mesh, nodes, args);
    return;
  }
  fmt::print("\n{}", mesh.rank_table());
  fmt::print("\ngroups (ranks in each):\n");
  for (const auto& axes : kGroupKinds) fmt::print("{}", mesh.groups_table(axes));
  print_hybrid(mesh, cfg.parallel(), args.world);
  print_moe(mesh, cfg.model());
  if (mesh.size(Axis::pp) == 1)
    fmt::print("\npipeline neighbours: none (pp = 1)\n");
  else
    fmt::print("\npipeline neighbours (-1: none):\n{}", mesh.neighbour_table());
  if (show_nodes) print_nodes(mesh, nodes, args);
}

}  // namespace

void register_topo(CLI::App& app) {
  auto args = std::make_shared<TopoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "topo", "Print the rank layout of a config on N ranks: coordinates, groups, pipeline neighbours");
  cmd->footer(
      "Nothing is launched. Axes: tp (parallel.tensor), cp (parallel.context), dp (parallel.data, 0: the "
      "rest),\n"
      "pp (parallel.pipeline) on the dense grid; etp (parallel.expert_tensor), ep (parallel.expert) and\n"
      "edp = world / (etp x ep x pp) on the expert grid. parallel.order lists the axes, first fastest.\n"
      "Examples:\n"
      "  trident topo --world 8 --set parallel.tensor=2 --set parallel.pipeline=2 configs/gpt2_tiny.pbtxt\n"
      "  trident topo --world 16 --set parallel.tensor=2 --set parallel.expert=4 configs/gpt2_tiny.pbtxt\n"
      "  trident topo --world 8 --set parallel.order=tp-dp-pp-cp-ep --rank 5 configs/gpt2_tiny.pbtxt\n"
      "  trident topo --world 8 --set parallel.tensor=4 --ranks-per-node 4 --map-by node "
      "configs/gpt2_tiny.pbtxt\n");
  cmd->add_option("--world,-n", args->world, "Number of ranks (world size)")->required();
  CLI::Option* rank =
      cmd->add_option("--rank", args->rank, "Show only this rank's coordinates, groups and neighbours");
  CLI::Option* per_node = cmd->add_option(
      "--ranks-per-node", args->ranks_per_node,
      "Show which ranks sit on which node, K ranks per node, and flag every tp, etp and ep group "
      "that spans nodes (K must divide --world)");
  cmd->add_option("--map-by", args->map_by,
                  "How mpirun places ranks on nodes: slot (its default: node 0 filled first) or node (round "
                  "robin, rank r on node r % nodes)")
      ->check(CLI::IsMember({"slot", "node"}))
      ->needs(per_node)
      ->capture_default_str();
  args->config.add_to(*cmd);
  cmd->callback([args, rank, per_node] {
    args->one_rank = rank->count() > 0;
    args->show_nodes = per_node->count() > 0;
    run_topo(*args);
  });
}

}  // namespace trident::cli
