// trident train CONFIG [--set path=value ...] [--out DIR]
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

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

// One write per message, so the messages of several ranks do not interleave mid-line.
void print_error(const std::string& message) {
  const std::string line = fmt::format("trident: error: {}\n", message);
  [[maybe_unused]] const ssize_t n = ::write(2, line.data(), line.size());
}

// Under mpirun, once every rank has run the setup checks (`error`: this rank's problem, empty if none):
// returns when every rank passed. Otherwise every rank ends the job by throwing CLI::RuntimeError(1) (main
// exits 1 without a message of its own), and the comm::Runtime finalises MPI as the stack unwinds: no
// MPI_Abort, so no abort banner. The ranks agree first (one all-reduce), so a problem every rank found
// identically (a config mistake, a missing data file) is printed once, by rank 0, and one only some ranks
// found (a file missing on one node) by each of them, naming the rank; no rank is left waiting.
void end_job_if_setup_failed(comm::Communicator& world, const std::string& error) {
  const bool failed = !error.empty();
  // 52 bits of the message's hash: a double holds them exactly, so max and -max compare them exactly.
  const double hash = failed ? static_cast<double>(std::hash<std::string>{}(error) >> 12) : 0.0;
  Tensor agree = Tensor::empty({4}, DType::f64);  // (failed, passed, hash, -hash), max over the ranks
  double* a = agree.data<double>();
  a[0] = failed ? 1 : 0;
  a[1] = failed ? 0 : 1;
  a[2] = hash;
  a[3] = -hash;
  world.all_reduce(agree, comm::ReduceOp::max);
  if (a[0] == 0) return;
  const bool same_everywhere = a[1] == 0 && a[2] == -a[3];
  if (same_everywhere && world.rank() == 0) print_error(error);
  if (!same_everywhere && failed) print_error(fmt::format("[rank {}] {}", world.rank(), error));
  throw CLI::RuntimeError(1);
}
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
    // Setup: the checks every rank makes alike before any communication (the config, the data files).
    std::optional<config::Config> cfg;
    std::string setup_error;
    try {
      cfg = args->config.parse();
    } catch (const Error& e) {
      setup_error = e.what();
    }
    // Under mpirun this initialises MPI and the watchdog; a plain run stays one local rank.
    comm::Runtime runtime(cfg ? comm::CommOptions::from_config(*cfg) : comm::CommOptions::from_env());
    if (cfg) {
      try {
        resolve(*cfg, runtime.world_size());
        validate(*cfg, runtime.world_size());
        check_data(*cfg);
      } catch (const Error& e) {
        setup_error = e.what();
      }
    }
    if (runtime.world_size() == 1 && !setup_error.empty()) throw Error(setup_error);
    auto world = runtime.world();
    if (runtime.world_size() > 1) end_job_if_setup_failed(*world, setup_error);
    try {
      std::string out = args->out;
      if (out.empty()) out = "runs/" + std::filesystem::path(args->config.path).stem().string();
      Trainer(*cfg, out, *world, args->resume, args->save_on_exit).run();
    } catch (const Error& e) {
      if (runtime.world_size() == 1) throw;
      // From here an error may be this rank's alone, and the others may be waiting for it in a collective:
      // say which rank, end the whole job.
      print_error(fmt::format("[rank {}] {}", runtime.world_rank(), e.what()));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  });
}

}  // namespace trident::cli
