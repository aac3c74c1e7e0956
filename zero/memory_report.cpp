#include "zero/memory_report.h"

#include <fmt/format.h>

namespace trident::zero {

namespace {

struct Formula {
  double full = 0, sharded = 0;  // bytes per parameter: held whole, and split over N
};

std::string text(Formula f) {
  const auto num = [](double v) { return fmt::format("{:g}", v); };
  if (f.full == 0 && f.sharded == 0) return "0";
  if (f.sharded == 0) return num(f.full) + "Ψ";
  if (f.full == 0) return num(f.sharded) + "Ψ/N";
  return num(f.full) + "Ψ + " + num(f.sharded) + "Ψ/N";
}

// Bytes per parameter of each state category, whole and sharded (memory_report.h's table).
void formulas(int stage, bool mixed, bool accumulating, Formula& params, Formula& grads, Formula& optim) {
  const double p = mixed ? 2 : 4;
  params = stage == 3 ? Formula{} : Formula{p, 0};
  const double fp32_grads = mixed && stage == 0 ? 4 : 0;  // stage 0's fp32 gradients (and sum)
  switch (stage) {
    case 0:
      grads = {p + fp32_grads, 0};
      optim = {mixed ? 12.0 : 8.0, 0};
      return;
    case 1:
      grads = {p + (mixed && accumulating ? 4.0 : 0.0), 4};
      optim = {0, mixed ? 12.0 : 8.0};
      return;
    case 2:
      grads = {0, 4};
      optim = {0, mixed ? 12.0 : 8.0};
      return;
    default:
      grads = {0, 4};
      optim = {0, 12};
  }
}

}  // namespace

std::vector<int64_t> memory_baseline(Device device) {
  std::vector<int64_t> out;
  for (int c = 0; c < kMemoryCategories; ++c) out.push_back(memory_stats(device, MemoryCategory(c)).current);
  return out;
}

MemoryReport memory_report(int stage, bool mixed, bool accumulating, int64_t psi, int shards, Device device,
                           const std::vector<int64_t>& baseline) {
  MemoryReport r;
  r.stage = stage;
  r.shards = shards;
  r.mixed = mixed;
  r.accumulating = accumulating;
  r.psi = psi;
  Formula params, grads, optim;
  formulas(stage, mixed, accumulating, params, grads, optim);
  const auto bytes = [&](Formula f) {
    return static_cast<double>(psi) * (f.full + f.sharded / static_cast<double>(shards));
  };
  const auto measured = [&](MemoryCategory c) {
    const int i = static_cast<int>(c);
    return memory_stats(device, c).current - (baseline.empty() ? 0 : baseline.at(i));
  };
  r.rows.push_back(
      {MemoryCategory::parameters, measured(MemoryCategory::parameters), bytes(params), text(params)});
  r.rows.push_back(
      {MemoryCategory::gradients, measured(MemoryCategory::gradients), bytes(grads), text(grads)});
  r.rows.push_back({MemoryCategory::optimizer_state, measured(MemoryCategory::optimizer_state), bytes(optim),
                    text(optim)});
  r.rows.push_back({MemoryCategory::comm_buffers, measured(MemoryCategory::comm_buffers), 0, "buffer"});
  r.rows.push_back({MemoryCategory::gathered_units, measured(MemoryCategory::gathered_units), 0, "buffer"});
  return r;
}

int64_t MemoryReport::state_measured() const {
  return rows[0].measured + rows[1].measured + rows[2].measured;
}

double MemoryReport::state_formula() const {
  return rows[0].formula + rows[1].formula + rows[2].formula;
}

std::string MemoryReport::table() const {
  const double mb = 1e6;
  std::string out = fmt::format(
      "memory: ZeRO stage {}, {} model, N = {}, Ψ = {:.2f}M parameters on this rank's tp x pp shard\n"
      "  {:<22} {:>12} {:>12}  {}\n",
      stage, mixed ? "bf16/fp16 (fp32 masters)" : "fp32", shards, static_cast<double>(psi) / 1e6, "category",
      "measured MB", "formula MB", "formula");
  for (const MemoryRow& row : rows) {
    const bool buffer = row.text == "buffer";
    out += fmt::format("  {:<22} {:>12.2f} {:>12}  {}\n", memory_category_name(row.category),
                       static_cast<double>(row.measured) / mb,
                       buffer ? std::string("-") : fmt::format("{:.2f}", row.formula / mb), row.text);
  }
  out += fmt::format("  {:<22} {:>12.2f} {:>12.2f}  parameters + gradients + optimizer state", "model state",
                     static_cast<double>(state_measured()) / mb, state_formula() / mb);
  return out;
}

}  // namespace trident::zero
