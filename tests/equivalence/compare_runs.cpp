// compare_runs REFERENCE_DIR RUN_DIR [--rtol 1e-5]: the layout-equivalence check. Two training runs of the
// same config under different layouts must log the same loss at every step and the same val loss at every
// evaluation (relative difference <= rtol), and end with the same weights (per tensor, ||run - ref|| /
// ||ref||
// <= rtol). Prints a table; exit 1 on mismatch.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"

namespace {

// metrics.jsonl's `key` ("loss" or "val_loss") by step.
std::map<int64_t, double> step_values(const std::string& dir, const char* key) {
  std::ifstream in(dir + "/metrics.jsonl");
  if (!in) throw trident::Error("cannot read " + dir + "/metrics.jsonl");
  std::map<int64_t, double> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains(key)) out[j["step"].get<int64_t>()] = j[key].get<double>();
  }
  return out;
}

// Every step of `key` in the reference must be in the run, within rtol; returns the failures, updates worst.
int compare_values(const std::string& ref_dir, const std::string& run_dir, const char* key, double rtol,
                   double& worst) {
  int failures = 0;
  const auto ref = step_values(ref_dir, key), run = step_values(run_dir, key);
  for (const auto& [step, value] : ref) {
    auto it = run.find(step);
    if (it == run.end()) {
      std::printf("step %lld: %s missing in %s\n", static_cast<long long>(step), key, run_dir.c_str());
      ++failures;
      continue;
    }
    const double rel = std::abs(it->second - value) / std::abs(value);
    worst = std::max(worst, rel);
    if (rel > rtol) {
      std::printf("step %lld: %s %.9f vs reference %.9f (relative %.2e > %.0e)\n",
                  static_cast<long long>(step), key, it->second, value, rel, rtol);
      ++failures;
    }
  }
  if (ref.size() != run.size() || ref.empty()) {
    std::printf("logged %s steps differ: %zu in reference, %zu in run\n", key, ref.size(), run.size());
    ++failures;
  }
  return failures;
}

int compare(const std::string& ref_dir, const std::string& run_dir, double rtol) {
  double worst_loss = 0, worst_val = 0;
  int failures = compare_values(ref_dir, run_dir, "loss", rtol, worst_loss);
  failures += compare_values(ref_dir, run_dir, "val_loss", rtol, worst_val);
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
  std::printf("| %-40s | worst loss rel %.2e | worst val loss rel %.2e | worst weight rel %.2e (%s) | %s |\n",
              run_dir.c_str(), worst_loss, worst_val, worst_weight, worst_name.c_str(),
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
