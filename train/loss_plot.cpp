#include "train/loss_plot.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/runtime/error.h"
#include "core/runtime/logging.h"
#include "train/line_chart.h"

namespace trident {

namespace {

// Appends (step, value), first dropping what a resumed run logged again from `step` on.
void append_point(std::vector<double>& steps, std::vector<double>& values, double step, double value) {
  while (!steps.empty() && steps.back() >= step) {
    steps.pop_back();
    values.pop_back();
  }
  steps.push_back(step);
  values.push_back(value);
}

std::string trimmed(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// Legend names: each run directory less the leading directories that all of them share (one run: its own
// name), so runs/tiny_dp2 and runs/tiny_pp2 read tiny_dp2 and tiny_pp2.
std::vector<std::string> run_names(const std::vector<std::string>& dirs) {
  std::vector<std::vector<std::filesystem::path>> parts;
  size_t common = SIZE_MAX;
  for (const std::string& d : dirs) {
    std::vector<std::filesystem::path> p;
    for (const auto& c : std::filesystem::path(trimmed(d)).lexically_normal())
      if (!c.empty()) p.push_back(c);
    common = std::min(common, p.empty() ? 0 : p.size() - 1);  // keep at least the last component
    parts.push_back(std::move(p));
  }
  for (size_t k = 0; k < common; ++k)
    for (const auto& p : parts)
      if (p[k] != parts[0][k]) common = k;
  std::vector<std::string> names;
  for (const auto& p : parts) {
    std::filesystem::path name;
    for (size_t k = common; k < p.size(); ++k) name /= p[k];
    names.push_back(name.string());
  }
  return names;
}

}  // namespace

LossCurves read_loss_curves(const std::string& run_dir, bool need_tokens) {
  std::error_code ec;
  if (!std::filesystem::is_directory(run_dir, ec))
    fail(
        "run directory '{}' does not exist or is not a directory (give the --out directory of `trident "
        "train`)",
        run_dir);
  const std::string path = trimmed(run_dir) + "/metrics.jsonl";
  if (!std::filesystem::exists(path, ec))
    fail("'{}' has no metrics.jsonl: it is not a run directory, or its training has not logged a step yet",
         run_dir);
  std::ifstream in(path);
  if (!in) fail("cannot read '{}'", path);
  LossCurves c;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json row;
    try {
      row = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error&) {
      fail("{}:{}: not a JSON object (metrics.jsonl holds one per line)", path, line_no);
    }
    if (!row.is_object() || !row.contains("step") || !row["step"].is_number()) continue;
    const double step = row["step"].get<double>();
    if (row.contains("loss") && row["loss"].is_number())
      append_point(c.step, c.loss, step, row["loss"].get<double>());
    if (row.contains("val_loss") && row["val_loss"].is_number())
      append_point(c.val_step, c.val_loss, step, row["val_loss"].get<double>());
  }
  if (line_no == 0) fail("'{}' is empty: the run has not logged a step yet", path);
  if (c.step.empty()) fail("'{}' has no training loss (no row with \"step\" and \"loss\")", path);
  if (need_tokens) {
    const std::string cfg_path = trimmed(run_dir) + "/config.pbtxt";
    if (!std::filesystem::exists(cfg_path, ec))
      fail("'{}' has no config.pbtxt, which --x tokens needs for the tokens per step", run_dir);
    const config::Config cfg = load_config(cfg_path);
    c.tokens_per_step = static_cast<double>(cfg.train().global_batch_size()) * cfg.train().seq_len();
    if (!(c.tokens_per_step > 0))
      fail("'{}': train.global_batch_size x train.seq_len is not positive", cfg_path);
  }
  return c;
}

void write_loss_plot(const std::vector<std::string>& run_dirs, const std::string& out,
                     const LossPlotOptions& opt) {
  if (run_dirs.empty()) fail("no run directory to plot");
  std::vector<ChartSeries> series;
  const std::vector<std::string> names = run_names(run_dirs);
  for (size_t r = 0; r < run_dirs.size(); ++r) {
    const LossCurves c = read_loss_curves(run_dirs[r], opt.x_tokens);
    const std::string& name = names[r];
    const double scale = opt.x_tokens ? c.tokens_per_step : 1.0;
    ChartSeries loss{name + " loss", c.step, c.loss, chart_color(r), false, c.step.size() < 2};
    for (double& x : loss.x) x *= scale;
    series.push_back(std::move(loss));
    if (c.val_step.empty()) continue;
    ChartSeries val{name + " val loss", c.val_step, c.val_loss, chart_color(r), true, true};
    for (double& x : val.x) x *= scale;
    series.push_back(std::move(val));
  }
  ChartOptions chart;
  chart.title = opt.title.empty() ? "loss" : opt.title;
  chart.x_label = opt.x_tokens ? "tokens" : "step";
  chart.y_label = "loss";
  chart.log_y = opt.log_y;
  const std::string svg = line_chart_svg(series, chart);

  const std::filesystem::path parent = std::filesystem::path(out).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    fail("cannot write '{}': the directory '{}' does not exist", out, parent.string());
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  if (!file) fail("cannot write '{}'", out);
  file << svg;
  file.flush();
  if (!file) fail("cannot write '{}' (disk full?)", out);
}

void write_run_loss_plot(const std::string& run_dir) {
  const std::string out = trimmed(run_dir) + "/loss.svg";
  try {
    write_loss_plot({run_dir}, out);
    spdlog::info("loss curve: {}", out);
  } catch (const Error& e) {
    spdlog::warn("no loss curve: {}", e.what());
  }
}

}  // namespace trident
