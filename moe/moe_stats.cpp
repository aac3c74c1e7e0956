#include "moe/moe_stats.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/runtime/error.h"

namespace trident::moe {

MoeStats::MoeStats(int num_layers, int num_experts)
    : num_layers_(num_layers), num_experts_(num_experts), values_(2 + num_layers * (num_experts + 2), 0.0) {}

void MoeStats::add(int layer, const MoeActs& acts) {
  TRIDENT_CHECK(
      layer >= 0 && layer < num_layers_ && static_cast<int>(acts.tokens_per_expert.size()) == num_experts_,
      "MoE statistics of layer {} with {} experts (have {} layers, {} experts)", layer,
      acts.tokens_per_expert.size(), num_layers_, num_experts_);
  values_[0] += acts.aux_loss;
  values_[1] += acts.z_loss;
  double* v = values_.data() + 2 + layer * stride();
  for (int e = 0; e < num_experts_; ++e) v[e] += static_cast<double>(acts.tokens_per_expert[e]);
  v[num_experts_] += static_cast<double>(acts.dropped);
  v[num_experts_ + 1] += static_cast<double>(acts.assignments);
}

void MoeStats::add(const MoeStats& other) {
  if (other.empty()) return;
  if (empty()) {
    *this = other;
    return;
  }
  TRIDENT_CHECK(other.values_.size() == values_.size(), "MoE statistics of different shapes");
  for (size_t i = 0; i < values_.size(); ++i) values_[i] += other.values_[i];
}

void MoeStats::scale_losses(double s) {
  if (empty()) return;
  values_[0] *= s;
  values_[1] *= s;
}

void MoeStats::clear() {
  std::fill(values_.begin(), values_.end(), 0.0);
}

std::vector<double> MoeStats::tokens(int layer) const {
  std::vector<double> t(num_experts_);
  for (int e = 0; e < num_experts_; ++e) t[e] = at(layer, e);
  return t;
}

double MoeStats::dropped_fraction(int layer) const {
  const double a = at(layer, assignments_index());
  return a > 0 ? at(layer, num_experts_) / a : 0.0;
}

double MoeStats::dropped_fraction() const {
  double dropped = 0, all = 0;
  for (int l = 0; l < num_layers_; ++l) dropped += at(l, num_experts_), all += at(l, assignments_index());
  return all > 0 ? dropped / all : 0.0;
}

double MoeStats::min_max_ratio(int layer) const {
  const std::vector<double> t = tokens(layer);
  const double hi = *std::max_element(t.begin(), t.end());
  return hi > 0 ? *std::min_element(t.begin(), t.end()) / hi : 0.0;
}

std::string MoeStats::table() const {
  std::string out = fmt::format("{:>5} | {:<{}} | {:>7} | {:>7}", "layer", "tokens per expert (% of kept)",
                                std::max(29, 6 * num_experts_), "min/max", "dropped");
  for (int l = 0; l < num_layers_; ++l) {
    if (!has_layer(l)) continue;
    const std::vector<double> t = tokens(l);
    double kept = 0;
    for (double x : t) kept += x;
    std::string shares;
    for (double x : t) shares += fmt::format("{:>5.1f} ", kept > 0 ? 100.0 * x / kept : 0.0);
    out += fmt::format("\n{:>5} | {:<{}} | {:>7.3f} | {:>6.2f}%", l, shares, std::max(29, 6 * num_experts_),
                       min_max_ratio(l), 100.0 * dropped_fraction(l));
  }
  return out;
}

}  // namespace trident::moe
