#include "core/runtime/numerics_fingerprint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "core/runtime/version.h"

extern "C" char* openblas_get_config(void);
extern "C" char* openblas_get_corename(void);

namespace trident {

namespace {

// Environment variables that pick BLAS kernels: forwarded with mpirun -x when they differ.
constexpr const char* kKernelEnv[] = {"OPENBLAS_CORETYPE"};

// Ranks named in full before "...": a warning stays one line on a large job.
constexpr size_t kNamedRanks = 8;

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::string cpu_extensions() {
  std::vector<std::string> found;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) found.push_back("avx512f");
  if (__builtin_cpu_supports("avx2")) found.push_back("avx2");
  if (__builtin_cpu_supports("fma")) found.push_back("fma");
  if (__builtin_cpu_supports("avx")) found.push_back("avx");
#endif
  return found.empty() ? "none" : fmt::format("{}", fmt::join(found, " "));
}

std::string ranks_text(const std::vector<int>& ranks) {
  const size_t n = std::min(ranks.size(), kNamedRanks);
  return fmt::format("rank{} {}{}", ranks.size() == 1 ? "" : "s",
                     fmt::join(ranks.begin(), ranks.begin() + static_cast<std::ptrdiff_t>(n), " "),
                     ranks.size() > n ? " ..." : "");
}

}  // namespace

std::vector<NumericsSetting> numerics_settings(int threads, bool cpu_compute) {
  // OpenBLAS's config string names the core too: listed once, as "blas core".
  const std::string core = one_line(openblas_get_corename());
  std::string blas = one_line(openblas_get_config());
  if (const size_t at = blas.find(" " + core); at != std::string::npos) blas.erase(at, core.size() + 1);
  std::vector<NumericsSetting> s = {{"trident", kTridentVersion},
                                    {"blas", blas},
                                    {"blas core", core},
                                    {"cpu extensions", cpu_extensions()}};
  for (const char* name : kKernelEnv)
    if (const char* v = std::getenv(name)) s.push_back({name, one_line(v)});
  if (cpu_compute) s.push_back({"threads", std::to_string(threads)});
  return s;
}

std::string fingerprint_text(const std::vector<NumericsSetting>& settings) {
  std::string text;
  for (const auto& s : settings) text += s.name + "=" + s.value + "\n";
  return text;
}

std::vector<NumericsSetting> parse_fingerprint(const std::string& text) {
  std::vector<NumericsSetting> settings;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    const size_t eq = line.find('=');
    if (eq != std::string::npos) settings.push_back({line.substr(0, eq), line.substr(eq + 1)});
    begin = end + 1;
  }
  return settings;
}

std::string numerics_mismatch_warning(const std::vector<std::string>& fingerprints, const NodeMap& nodes) {
  // setting -> value -> ranks; a setting a rank lacks (OPENBLAS_CORETYPE unset) has the value "unset".
  std::vector<std::string> names;
  std::vector<std::map<std::string, std::string>> per_rank;
  for (const std::string& f : fingerprints) {
    per_rank.emplace_back();
    for (const auto& s : parse_fingerprint(f)) {
      per_rank.back()[s.name] = s.value;
      if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);
    }
  }
  std::vector<std::string> differences;
  std::vector<std::string> env_differ;
  bool threads_differ = false;
  for (const std::string& name : names) {
    std::map<std::string, std::vector<int>> ranks_of;
    for (size_t r = 0; r < per_rank.size(); ++r) {
      const auto it = per_rank[r].find(name);
      ranks_of[it == per_rank[r].end() ? "unset" : it->second].push_back(static_cast<int>(r));
    }
    if (ranks_of.size() < 2) continue;
    std::vector<std::string> values;
    for (const auto& [value, ranks] : ranks_of) {
      std::set<int> node_ids;
      for (const int r : ranks) node_ids.insert(nodes.node[r]);
      std::vector<std::string> hosts;
      for (const int n : node_ids) hosts.push_back(nodes.hosts[n]);
      values.push_back(fmt::format("'{}' on {} ({})", value, fmt::join(hosts, ", "), ranks_text(ranks)));
    }
    differences.push_back(fmt::format("{}: {}", name, fmt::join(values, " vs ")));
    for (const char* env : kKernelEnv)
      if (name == env) env_differ.push_back(fmt::format("-x {}", env));
    threads_differ |= name == "threads";
  }
  if (differences.empty()) return "";
  std::string fix = "run one Trident build and one BLAS library on every node";
  if (!env_differ.empty())
    fix = fmt::format("forward the same value to every rank with mpirun {} and {}",
                      fmt::join(env_differ, " "), fix);
  if (threads_differ) fix += ", and give every rank the same thread count (runtime.threads)";
  return fmt::format(
      "ranks run with different settings that change arithmetic, so their results drift apart: {}; {}",
      fmt::join(differences, "; "), fix);
}

}  // namespace trident
