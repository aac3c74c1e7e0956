// compare_runs REFERENCE_DIR RUN_DIR [--rtol 1e-5]: the layout-equivalence check. Two training runs of the
// same config under different layouts must log the same loss at every step (relative difference <= rtol) and
// end with the same weights (per tensor, ||run - ref|| / ||ref|| <= rtol). Prints a table; exit 1 on
// mismatch.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"

namespace {

std::map<int64_t, double> step_losses(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl");
  if (!in) throw trident::Error("cannot read " + dir + "/metrics.jsonl");
  std::map<int64_t, double> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return out;
}

int compare(const std::string& ref_dir, const std::string& run_dir, double rtol) {
  int failures = 0;
  const auto ref = step_losses(ref_dir), run = step_losses(run_dir);
  double worst_loss = 0;
  for (const auto& [step, loss] : ref) {
    auto it = run.find(step);
    if (it == run.end()) {
      std::printf("step %lld: missing in %s\n", static_cast<long long>(step), run_dir.c_str());
      ++failures;
      continue;
    }
    const double rel = std::abs(it->second - loss) / std::abs(loss);
    worst_loss = std::max(worst_loss, rel);
    if (rel > rtol) {
      std::printf("step %lld: loss %.9f vs reference %.9f (relative %.2e > %.0e)\n",
                  static_cast<long long>(step), it->second, loss, rel, rtol);
      ++failures;
    }
  }
  if (ref.size() != run.size() || ref.empty()) {
    std::printf("logged steps differ: %zu in reference, %zu in run\n", ref.size(), run.size());
    ++failures;
  }
  const auto wref = trident::io::load_safetensors(ref_dir + "/model.safetensors").tensors;
  const auto wrun = trident::io::load_safetensors(run_dir + "/model.safetensors").tensors;
  double worst_weight = 0;
  std::string worst_name;
  for (const auto& [name, t] : wref) {
    auto it = wrun.find(name);
    if (it == wrun.end() || it->second.shape() != t.shape()) {
      std::printf("weight %s: missing or reshaped in %s\n", name.c_str(), run_dir.c_str());
      ++failures;
      continue;
    }
    const double rel = trident::relative_l2(it->second, t);
    if (rel > worst_weight) worst_weight = rel, worst_name = name;
    if (rel > rtol) {
      std::printf("weight %s: relative L2 difference %.2e > %.0e\n", name.c_str(), rel, rtol);
      ++failures;
    }
  }
  std::printf("| %-40s | %6zu steps | worst loss rel %.2e | worst weight rel %.2e (%s) | %s |\n",
              run_dir.c_str(), run.size(), worst_loss, worst_weight, worst_name.c_str(),
              failures ? "FAIL" : "ok");
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare_runs REFERENCE_DIR RUN_DIR [--rtol 1e-5]\n");
    return 2;
  }
  double rtol = 1e-5;
  if (argc == 5 && std::string(argv[3]) == "--rtol") rtol = std::stod(argv[4]);
  try {
    return compare(argv[1], argv[2], rtol);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_runs: error: %s\n", e.what());
    return 1;
  }
}
