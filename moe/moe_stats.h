#pragma once
// Routing statistics over a step or a run, per MoE layer of the whole model: tokens kept per expert, drops,
// and the auxiliary losses. A flat vector of doubles, so that ranks can sum them in one all-reduce (pipeline
// stages hold different layers, data-parallel ranks different tokens).
#include <cstdint>
#include <string>
#include <vector>

#include "moe/moe_acts.h"

namespace trident::moe {

class MoeStats {
 public:
  MoeStats() = default;
  MoeStats(int num_layers, int num_experts);

  bool empty() const { return values_.empty(); }
  // Adds one micro-batch's routing through block `layer`.
  void add(int layer, const MoeActs& acts);
  void add(const MoeStats& other);
  void scale_losses(double s);  // aux and z losses *= s (the mean over micro-batches, over replicas)
  void clear();

  double aux_loss() const { return values_.empty() ? 0.0 : values_[0]; }
  double z_loss() const { return values_.empty() ? 0.0 : values_[1]; }
  bool has_layer(int layer) const { return at(layer, assignments_index()) > 0; }
  std::vector<double> tokens(int layer) const;  // kept per expert
  double dropped_fraction(int layer) const;
  double dropped_fraction() const;  // over all layers
  // min over experts / max over experts of the tokens kept (1: perfectly balanced, 0: an idle expert).
  double min_max_ratio(int layer) const;
  int num_layers() const { return num_layers_; }

  std::vector<double>& values() { return values_; }  // for the all-reduce
  // One line per MoE layer: tokens per expert as shares, min/max, dropped.
  std::string table() const;

 private:
  int num_layers_ = 0, num_experts_ = 0;
  // [aux, z, then per layer: kept per expert (E), dropped, assignments]
  std::vector<double> values_;
  int64_t stride() const { return num_experts_ + 2; }
  int64_t assignments_index() const { return num_experts_ + 1; }
  double at(int layer, int64_t i) const { return values_[2 + layer * stride() + i]; }
};

}  // namespace trident::moe
