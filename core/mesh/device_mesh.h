#pragma once
// DeviceMesh: which global rank plays which part in every parallel dimension, Megatron style.
//
// One order string ("tp-cp-ep-dp-pp" by default, first axis fastest) lays the ranks out on two grids:
//
//   dense grid   tp  x cp x dp  x pp    (attention, dense MLPs, embeddings; ep left out)
//   expert grid  etp x ep x edp x pp    (MoE experts; cp left out, edp = world / (etp * ep * pp))
//
// A rank's coordinate on an axis is (rank / stride) % size, the stride being the product of the sizes of
// the axes before it in the order. Both grids share the pipeline groups: with pp first or last in the order
// (the default puts it last) stage s holds the same ranks on both, and the mesh refuses layouts where not.
//
// Every group kind comes from one masking function, groups(axes): ranks that differ only in the given axes
// form one group. {tp} is a tensor-parallel group, {dp, cp} the gradient-reduction group of a dense
// parameter, {ep} an expert-parallel all-to-all group, {tp, pp} the ranks holding one model replica.
// Nothing here communicates; communicators are built from these rank lists.
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/trident.pb.h"

namespace trident {

// Parallel sizes; dp = 0 means "whatever ranks remain" (world / (tp * cp * pp)).
struct MeshSizes {
  int tp = 1, cp = 1, ep = 1, dp = 1, pp = 1;
  int etp = 1;  // tensor parallelism inside the expert grid
};

// The sizes named by a config's `parallel` section (order is taken separately: parallel.order).
MeshSizes mesh_sizes(const config::ParallelConfig& p);

// tp, cp, dp: dense grid. etp, ep, edp: expert grid. pp: both (the same groups).
enum class Axis : uint8_t { tp, cp, ep, dp, pp, etp, edp };
inline constexpr int kNumAxes = 7;
const char* axis_name(Axis a);
// "dp" -> {dp}; "dp-cp" -> {dp, cp} (the names of axis_name, joined by '-'). Throws trident::Error.
std::vector<Axis> parse_axes(const std::string& names);
// {dp, cp} -> "dp-cp".
std::string axes_name(const std::vector<Axis>& axes);

inline constexpr const char* kDefaultMeshOrder = "tp-cp-ep-dp-pp";

// One rank's coordinates on every axis.
struct MeshCoords {
  int tp = 0, cp = 0, ep = 0, dp = 0, pp = 0, etp = 0, edp = 0;
  int operator[](Axis a) const;
  int& operator[](Axis a);
};

// What a pipeline neighbour of the first/last stage is: nothing (-1) or the stage at the other end.
enum class StageEnds : uint8_t { stop, wrap };

class DeviceMesh {
 public:
  // Throws one trident::Error naming the numbers when the layout is impossible (sizes below 1, a world
  // that the sizes do not divide, dp that does not match, an order that is not a permutation of
  // tp,cp,ep,dp,pp, pipeline groups that differ between the dense and expert grids).
  DeviceMesh(int world_size, MeshSizes sizes, const std::string& order = kDefaultMeshOrder);

  int world_size() const { return world_; }
  // The resolved sizes: dp filled in, edp = world / (etp * ep * pp).
  int size(Axis a) const;
  const MeshSizes& sizes() const { return sizes_; }
  const std::string& order() const { return order_; }

  int coord(int rank, Axis a) const;
  MeshCoords coords(int rank) const;
  // Inverse of coords() on each grid: the dense one reads tp, cp, dp, pp; the expert one etp, ep, edp, pp.
  int dense_rank(const MeshCoords& c) const;
  int expert_rank(const MeshCoords& c) const;

  // The partition of all ranks into groups that vary exactly the given axes (all dense-grid axes, or all
  // expert-grid axes; pp belongs to both). Each group is sorted ascending, groups by their first rank.
  // An empty axis list gives one group per rank.
  std::vector<std::vector<int>> groups(const std::vector<Axis>& axes) const;
  // The one group of groups(axes) that contains `rank`.
  std::vector<int> group_of(int rank, const std::vector<Axis>& axes) const;

  // Hybrid sharding (FSDP's HYBRID_SHARD, ZeRO++'s hpZ) of the data-parallel group (dp x cp) that holds
  // `rank`: shard groups of `shard_size` consecutive members, and replica groups of the members at the same
  // place in each shard group. shard_size must divide the group's size.
  struct HybridGroups {
    std::vector<int> shard, replica;
  };
  HybridGroups hybrid_groups(int rank, int shard_size) const;

  // Pipeline neighbours: the rank holding the previous/next stage with every other coordinate equal.
  // At the ends: -1 (StageEnds::stop), or the last/first stage (StageEnds::wrap, as interleaved schedules
  // send the last chunk's output back to stage 0). With pp = 1, wrap gives the rank itself.
  int prev_stage_rank(int rank, StageEnds ends = StageEnds::stop) const;
  int next_stage_rank(int rank, StageEnds ends = StageEnds::stop) const;
  bool is_first_stage(int rank) const { return coord(rank, Axis::pp) == 0; }
  bool is_last_stage(int rank) const { return coord(rank, Axis::pp) == sizes_.pp - 1; }

  // "world 8 = tp 2 x cp 1 x dp 2 x pp 2; experts: etp 1 x ep 2 x edp 2 x pp 2; order tp-cp-ep-dp-pp"
  std::string describe() const;
  // One line per rank: its coordinates on every axis.
  std::string rank_table() const;
  // "dp-cp  4 groups of 4: [0 2 4 6] [1 3 5 7] ...", wrapped at `width` columns.
  std::string groups_table(const std::vector<Axis>& axes, int width = 110) const;
  // prev/next stage of every rank (both -1 at the ends, and the wrapped form).
  std::string neighbour_table() const;

 private:
  // One grid: its axes in order (fastest first), sizes and strides.
  struct Grid {
    std::vector<Axis> axes;
    std::vector<int> sizes;
    std::vector<int> strides;
    int index(Axis a) const;  // position in axes, -1 if absent
  };
  const Grid& grid_for(const std::vector<Axis>& axes) const;
  static std::vector<std::vector<int>> masked_groups(const Grid& g, int world, const std::vector<Axis>& axes);
  void check_rank(int rank) const;

  int world_;
  MeshSizes sizes_;
  int edp_;
  std::string order_;
  Grid dense_, expert_;
};

}  // namespace trident
