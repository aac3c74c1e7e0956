// trident plot RUN_DIR [RUN_DIR ...] [--out FILE.svg] [--x step|tokens] [--log-y] [--title TEXT]
#include <iostream>
#include <memory>

#include "core/runtime/error.h"
#include "tools/cli/commands.h"
#include "train/loss_plot.h"

namespace trident::cli {

namespace {
struct PlotArgs {
  std::vector<std::string> run_dirs;
  std::string out;
  std::string x = "step";
  bool log_y = false;
  std::string title;
};

void run_plot(const PlotArgs& a) {
  std::string out = a.out;
  if (out.empty()) {
    if (a.run_dirs.size() > 1) fail("plotting {} runs: say where with --out FILE.svg", a.run_dirs.size());
    out = a.run_dirs[0] + "/loss.svg";
  }
  LossPlotOptions opt;
  opt.x_tokens = a.x == "tokens";
  opt.log_y = a.log_y;
  opt.title = a.title;
  write_loss_plot(a.run_dirs, out, opt);
  std::cout << "wrote " << out << " (" << a.run_dirs.size() << " run" << (a.run_dirs.size() == 1 ? "" : "s")
            << ")\n";
}
}  // namespace

void register_plot(CLI::App& app) {
  auto args = std::make_shared<PlotArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Draw the loss and val loss of one or several runs on one chart (SVG), to compare them");
  cmd->add_option("run_dirs", args->run_dirs, "Run directories written by `trident train --out DIR`")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--out", args->out, "The SVG file to write (default with one run: RUN_DIR/loss.svg)");
  cmd->add_option("--x", args->x, "The x axis: training steps or tokens")
      ->capture_default_str()
      ->check(CLI::IsMember({"step", "tokens"}));
  cmd->add_flag("--log-y", args->log_y, "Log-scaled loss axis");
  cmd->add_option("--title", args->title, "Chart title (default: loss)");
  cmd->footer(
      "Each run gets one colour: its training loss solid, its validation loss dashed.\n"
      "Example:\n"
      "  trident plot runs/tiny_dp2 runs/tiny_pp2 --out compare.svg --x tokens --log-y");
  cmd->callback([args] { run_plot(*args); });
}

}  // namespace trident::cli
