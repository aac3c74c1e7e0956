// compare_runs: the layout-equivalence check, and the check that a reference run learned.
//
//   compare_runs REFERENCE_DIR RUN_DIR [--rtol 1e-5] [--layout tp=2,pp=1,dp=2] [--log RUN_LOG]
//     Two training runs of the same config under different layouts must log the same loss at every step and
//     the same val loss at every evaluation (relative difference <= rtol), end with the same weights (per
//     tensor, ||run - ref|| / ||ref|| <= rtol), and log the same gradient norm: within 1e-6 at the first step
//     (identical weights; only the summation order differs) and within 1e-3 at every step (a loss spike
//     amplifies fp32 rounding at one step; a scale bug, such as summing instead of averaging over
//     data-parallel ranks, is off by a factor at every step). With --layout, the run must prove it ran that
//     layout: its log
//     (--log) holds exactly one "layout:" line with those sizes, and its metrics.jsonl "comm" record shows
//     every rank moving data through every group of size > 1 (N ranks that silently trained apart fail both).
//
//   compare_runs --learns RUN_DIR
//     A reference run must learn: its last loss at least 15% under its first, and its last val loss under its
//     first.
//
// Prints a table row; exit 1 on any mismatch, non-zero on bad usage.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"

namespace {

using Json = nlohmann::json;

std::vector<Json> metrics(const std::string& dir) {
  std::ifstream in(dir + "/metrics.jsonl");
  if (!in) throw trident::Error("cannot read " + dir + "/metrics.jsonl");
  std::vector<Json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(Json::parse(line));
  return out;
}

// metrics.jsonl's `key` ("loss", "grad_norm" or "val_loss") by step.
std::map<int64_t, double> step_values(const std::vector<Json>& records, const char* key) {
  std::map<int64_t, double> out;
  for (const Json& j : records)
    if (j.contains(key) && j.contains("step")) out[j["step"].get<int64_t>()] = j[key].get<double>();
  return out;
}

struct Check {
  int failures = 0;
  template <typename... Args>
  void fail(fmt::format_string<Args...> f, Args&&... args) {
    std::printf("%s\n", fmt::format(f, std::forward<Args>(args)...).c_str());
    ++failures;
  }
};

// Every step of `key` in the reference must be in the run, within rtol (first_rtol at the first step);
// returns the worst relative difference.
double compare_values(const std::vector<Json>& ref_m, const std::vector<Json>& run_m, const char* key,
                      double rtol, double first_rtol, Check& check) {
  double worst = 0;
  const auto ref = step_values(ref_m, key), run = step_values(run_m, key);
  for (const auto& [step, value] : ref) {
    auto it = run.find(step);
    if (it == run.end()) {
      check.fail("step {}: {} missing in the run", step, key);
      continue;
    }
    const double rel = std::abs(it->second - value) / std::abs(value);
    const double bar = step == ref.begin()->first ? first_rtol : rtol;
    worst = std::max(worst, rel);
    if (rel > bar)
      check.fail("step {}: {} {:.9f} vs reference {:.9f} (relative {:.2e} > {:.0e})", step, key, it->second,
                 value, rel, bar);
  }
  if (ref.size() != run.size() || ref.empty())
    check.fail("logged {} steps differ: {} in reference, {} in run", key, ref.size(), run.size());
  return worst;
}

// The run's one "layout:" line (rank 0 prints it) must show the requested sizes.
void check_layout_line(const std::string& log_path, const std::map<std::string, int>& want, Check& check) {
  std::ifstream in(log_path);
  if (!in) throw trident::Error("cannot read the run's log " + log_path);
  static const std::regex re(R"(layout: tensor-parallel (\d+).* x pipeline (\d+) .* x data-parallel (\d+))");
  static const std::regex experts(R"(experts: expert-parallel (\d+))");  // printed when ep > 1
  std::vector<std::map<std::string, int>> found;
  std::string line;
  std::smatch m, e;
  while (std::getline(in, line)) {
    if (!std::regex_search(line, m, re)) continue;
    const int ep = std::regex_search(line, e, experts) ? std::stoi(e[1]) : 1;
    found.push_back({{"tp", std::stoi(m[1])}, {"pp", std::stoi(m[2])}, {"dp", std::stoi(m[3])}, {"ep", ep}});
  }
  if (found.size() != 1) {
    check.fail("{}: {} 'layout:' lines, expected exactly one (several: ranks that each ran alone)", log_path,
               found.size());
    return;
  }
  for (const auto& [axis, size] : want)
    if (found[0].at(axis) != size)
      check.fail("layout: {} is {} in the run's log, the test launched {}", axis, found[0].at(axis), size);
}

// Every rank moved data through every group of size > 1, and each group has the requested size.
void check_traffic(const std::vector<Json>& run_m, const std::map<std::string, int>& want, int world,
                   Check& check) {
  const Json* comm = nullptr;
  for (const Json& j : run_m)
    if (j.contains("comm")) comm = &j["comm"];
  if (comm == nullptr) return check.fail("the run's metrics.jsonl has no \"comm\" record");
  for (const auto& [axis, size] : want) {
    if (!comm->contains(axis)) {  // the expert-parallel group is reported only when there is one
      if (size > 1)
        check.fail("comm: the run reports no {} group; the test launched {} ranks in it", axis, size);
      continue;
    }
    const Json& g = (*comm)[axis];
    if (g["size"].get<int>() != size)
      check.fail("comm: the {} group has {} ranks, not {}", axis, g["size"].get<int>(), size);
    if (g["bytes"].size() != static_cast<size_t>(world))
      check.fail("comm: {} ranks reported, the layout has {}", g["bytes"].size(), world);
    if (size == 1) continue;
    for (size_t r = 0; r < g["bytes"].size(); ++r)
      if (!(g["bytes"][r].get<double>() > 0))
        check.fail("comm: world rank {} moved nothing through its {} group of {} ranks", r, axis, size);
  }
}

std::map<std::string, int> parse_layout(const std::string& text) {
  std::map<std::string, int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t eq = item.find('=');
    const std::string axis = item.substr(0, eq);
    if (eq == std::string::npos || (axis != "tp" && axis != "pp" && axis != "dp" && axis != "ep"))
      throw CLI::ValidationError("--layout", "expected tp=N,pp=N,dp=N[,ep=N], got '" + text + "'");
    out[axis] = std::stoi(item.substr(eq + 1));
  }
  for (const char* axis : {"tp", "pp", "dp", "ep"}) out.emplace(axis, 1);
  return out;
}

// after_step >= 0: only the reference's steps after it count (a run resumed from a checkpoint of that step).
// bitwise: every loss, val loss, grad norm and weight equal to the last bit.
int compare(const std::string& ref_dir, const std::string& run_dir, double rtol, const std::string& layout,
            const std::string& log_path, int64_t after_step, bool bitwise) {
  Check check;
  std::map<std::string, int> want;
  if (!layout.empty()) {
    want = parse_layout(layout);
    check_layout_line(log_path, want, check);  // first: ranks that trained apart also garble metrics.jsonl
  }
  std::vector<Json> ref_m;
  for (Json& j : metrics(ref_dir))
    if (!(j.contains("step") && j["step"].get<int64_t>() <= after_step)) ref_m.push_back(std::move(j));
  const auto run_m = metrics(run_dir);
  if (bitwise) rtol = 0;
  if (!layout.empty()) check_traffic(run_m, want, want.at("tp") * want.at("pp") * want.at("dp"), check);
  const double loss = compare_values(ref_m, run_m, "loss", rtol, rtol, check);
  const double val = compare_values(ref_m, run_m, "val_loss", rtol, rtol, check);
  const double norm =
      compare_values(ref_m, run_m, "grad_norm", bitwise ? 0 : 1e-3, bitwise ? 0 : 1e-6, check);
  const auto wref = trident::io::load_safetensors(ref_dir + "/model.safetensors").tensors;
  const auto wrun = trident::io::load_safetensors(run_dir + "/model.safetensors").tensors;
  double worst_weight = 0;
  std::string worst_name;
  for (const auto& [name, t] : wref) {
    auto it = wrun.find(name);
    if (it == wrun.end() || it->second.shape() != t.shape()) {
      check.fail("weight {}: missing or reshaped in the run", name);
      continue;
    }
    const double rel = trident::relative_l2(it->second, t);
    if (rel > worst_weight) worst_weight = rel, worst_name = name;
    if (rel > rtol) check.fail("weight {}: relative L2 difference {:.2e} > {:.0e}", name, rel, rtol);
  }
  std::printf(
      "| %-40s | worst loss rel %.2e | val loss %.2e | grad norm %.2e | weight %.2e (%s) | layout %s | %s "
      "|\n",
      run_dir.c_str(), loss, val, norm, worst_weight, worst_name.c_str(),
      layout.empty() ? "-" : layout.c_str(), check.failures ? "FAIL" : "ok");
  return check.failures ? 1 : 0;
}

int learns(const std::string& dir) {
  Check check;
  const auto m = metrics(dir);
  const auto loss = step_values(m, "loss"), val = step_values(m, "val_loss");
  if (loss.size() < 2 || val.empty()) {
    check.fail("{}: needs 2+ logged losses and a val loss, has {} and {}", dir, loss.size(), val.size());
    return 1;
  }
  const double first = loss.begin()->second, last = loss.rbegin()->second;
  if (!(last < 0.85 * first)) check.fail("loss {:.4f} -> {:.4f}: did not fall by 15%", first, last);
  if (val.size() > 1 && !(val.rbegin()->second < val.begin()->second))
    check.fail("val loss {:.4f} -> {:.4f}: did not fall", val.begin()->second, val.rbegin()->second);
  std::printf("| %-40s | loss %.4f -> %.4f | val loss %.4f -> %.4f | %s |\n", dir.c_str(), first, last,
              val.begin()->second, val.rbegin()->second, check.failures ? "FAIL" : "ok");
  return check.failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"compare_runs: layout-equivalence checks between training runs"};
  std::vector<std::string> dirs;
  double rtol = 1e-5;
  std::string layout, log_path, learns_dir;
  int64_t after_step = -1;
  bool bitwise = false;
  app.add_option("dirs", dirs, "REFERENCE_DIR RUN_DIR")->expected(0, 2);
  app.add_option("--rtol", rtol, "relative bar on losses, val losses and weights")->capture_default_str();
  app.add_option("--layout", layout,
                 "the launched layout, e.g. tp=2,pp=1,dp=2[,ep=2]: checked in --log and comm");
  app.add_option("--log", log_path, "the run's console output (for its 'layout:' line)");
  app.add_option("--learns", learns_dir, "RUN_DIR: check that this run's loss fell instead");
  app.add_option("--after-step", after_step,
                 "compare only the reference's steps after this one (a resumed run)");
  app.add_flag("--bitwise", bitwise, "every value and weight equal to the last bit");
  CLI11_PARSE(app, argc, argv);
  try {
    if (!learns_dir.empty()) return learns(learns_dir);
    if (dirs.size() != 2) throw CLI::ValidationError("dirs", "expected REFERENCE_DIR RUN_DIR");
    if (!layout.empty() && log_path.empty()) throw CLI::ValidationError("--layout", "needs --log");
    return compare(dirs[0], dirs[1], rtol, layout, log_path, after_step, bitwise);
  } catch (const CLI::Error& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_runs: error: %s\n", e.what());
    return 1;
  }
}
