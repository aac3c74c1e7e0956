// trident train CONFIG [--set path=value ...] [--out DIR]
#include <filesystem>
#include <memory>

#include <mpi.h>

#include <unistd.h>

#include <iostream>

#include "core/comm/bootstrap.h"
#include "core/config/config.h"
#include "tools/cli/commands.h"
#include "tools/cli/config_args.h"
#include "train/trainer.h"
#include "train/validate.h"

namespace trident::cli {

namespace {
struct TrainArgs {
  ConfigArgs config;
  std::string out;
  std::string resume;
  bool save_on_exit = false;
};
}  // namespace

void register_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model from a config file");
  args->config.add_to(*cmd);
  cmd->add_option(
      "--out", args->out,
      "Run directory for config.pbtxt, metrics.jsonl and model.safetensors (default: runs/<config name>)");
  cmd->add_option(
      "--resume", args->resume,
      "Continue from a checkpoint directory (RUN/checkpoints/step_NNNNNNNN), or 'auto': the newest "
      "complete one under the run's checkpoint directory (none: start at step 0). Any parallel layout: the "
      "checkpoint is resharded on load.");
  cmd->add_flag(
      "--save-on-exit", args->save_on_exit,
      "On SIGTERM or SIGINT, finish the current step, save a checkpoint and exit 0 (a second signal "
      "ends the run at once)");
  cmd->footer(
      "Example:\n"
      "  trident data prepare --input /usr/share/games/fortunes --out data/fortunes\n"
      "  trident train configs/gpt2_tiny.pbtxt --out runs/tiny --set train.steps=100\n"
      "  trident train configs/gpt2_tiny.pbtxt --out runs/tiny --set checkpoint.interval=50 --resume auto");
  cmd->callback([args] {
    config::Config cfg = args->config.parse();
    // Under mpirun this initialises MPI and the watchdog; a plain run stays one local rank.
    comm::Runtime runtime(comm::CommOptions::from_config(cfg));
    try {
      resolve(cfg, runtime.world_size());
      validate(cfg, runtime.world_size());
      std::string out = args->out;
      if (out.empty()) out = "runs/" + std::filesystem::path(args->config.path).stem().string();
      auto world = runtime.world();
      Trainer(cfg, out, *world, args->resume, args->save_on_exit).run();
    } catch (const Error& e) {
      if (runtime.world_size() == 1) throw;
      // One rank's mistake must not leave the others waiting in a collective: say which rank, end the job.
      // One write per message, so the ranks' messages do not interleave mid-line.
      const std::string msg = fmt::format("trident: error: [rank {}] {}\n", runtime.world_rank(), e.what());
      [[maybe_unused]] const ssize_t n = ::write(2, msg.data(), msg.size());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  });
}

}  // namespace trident::cli
