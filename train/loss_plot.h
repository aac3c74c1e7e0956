#pragma once
// Loss curves of one or several run directories on one chart (train/line_chart.h), read from their
// metrics.jsonl: per run, the training loss solid and the validation loss dashed in the run's colour, so runs
// of different layouts or configs compare at a glance. `trident train` draws RUN_DIR/loss.svg at its end and
// `trident plot` draws any set of runs.
#include <string>
#include <vector>

namespace trident {

struct LossPlotOptions {
  bool x_tokens = false;  // x: training tokens (steps x the run's global batch x seq_len) instead of steps
  bool log_y = false;
  std::string title;  // empty: "loss"
};

// One run's curves. A resumed run appends to its metrics.jsonl: a row at a step the curve already passed
// replaces everything from that step on, as the resumed run did.
struct LossCurves {
  std::vector<double> step, loss;
  std::vector<double> val_step, val_loss;
  double tokens_per_step = 0;  // from the run's config.pbtxt, read only for x_tokens
};

// Reads RUN_DIR/metrics.jsonl (and config.pbtxt for tokens). Throws trident::Error naming the directory
// or file:line when there is no such directory, no metrics.jsonl, a line that is not JSON, or no loss row.
LossCurves read_loss_curves(const std::string& run_dir, bool need_tokens = false);

// Draws every run's curves to `out` (an .svg file). The legend names each run by its directory, less the
// leading directories all the runs share (one run: the directory's own name).
void write_loss_plot(const std::vector<std::string>& run_dirs, const std::string& out,
                     const LossPlotOptions& opt = {});

// The end of `trident train`: RUN_DIR/loss.svg, its path logged. A failure is logged as a warning: the run
// itself is complete and saved.
void write_run_loss_plot(const std::string& run_dir);

}  // namespace trident
