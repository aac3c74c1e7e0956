// trident profile CONFIG [--set path=value ...] [--steps N] [--trace FILE]: per module kind, forward and
// backward FLOPs, time, achieved GFLOP/s (GB/s for memory-bound ops), share of the step, and the
// communication of each group, DeepSpeed flops-profiler style (train/profile.h). Runs under mpirun like
// train.
#include <mpi.h>

#include <iostream>

#include "core/comm/bootstrap.h"
#include "core/config/config.h"
#include "tools/cli/commands.h"
#include "tools/cli/config_args.h"
#include "train/profile.h"
#include "train/trace_writer.h"
#include "train/validate.h"

namespace trident::cli {

namespace {
struct ProfileArgs {
  ConfigArgs config;
  int steps = 3;
  int rank = 0;
  std::string trace;
};
}  // namespace

void register_profile(CLI::App& app) {
  auto args = std::make_shared<ProfileArgs>();
  CLI::App* cmd =
      app.add_subcommand("profile", "Profile training steps per module kind (FLOPs, time, share)");
  args->config.add_to(*cmd);
  cmd->add_option("--steps", args->steps, "Steps to record after one warm-up step (default 3)");
  cmd->add_option("--rank", args->rank,
                  "Print this rank's table (default 0): a pipeline's last stage holds the head and the loss, "
                  "an expert-parallel rank its own experts");
  cmd->add_option("--trace", args->trace,
                  "Also write every rank's spans of those steps as a Chrome trace here");
  cmd->footer(
      "Example:\n"
      "  trident profile configs/gpt2_tiny.pbtxt --steps 3\n"
      "  mpirun -np 2 trident profile configs/gpt2_tiny.pbtxt --trace profile_trace.json\n"
      "  mpirun -np 2 trident profile configs/gpt2_tiny.pbtxt --set parallel.pipeline=2 --rank 1");
  cmd->callback([args] {
    config::Config cfg = args->config.parse();
    comm::Runtime runtime(comm::CommOptions::from_config(cfg));
    // Every rank finds the same config and data problems, before any communication.
    resolve(cfg, runtime.world_size());
    validate(cfg, runtime.world_size());
    check_data(cfg);
    if (args->rank < 0 || args->rank >= runtime.world_size())
      fail("--rank {}: the job has {} rank{} (0 to {})", args->rank, runtime.world_size(),
           runtime.world_size() == 1 ? "" : "s", runtime.world_size() - 1);
    auto world = runtime.world();
    try {
      const StepProfile p = profile_steps(cfg, *world, args->steps);
      if (!args->trace.empty()) write_span_trace(*world, p.records, p.t0_s, args->trace);
      if (world->rank() == args->rank) std::cout << format_profile(p, args->rank) << std::flush;
    } catch (const Error& e) {
      if (runtime.world_size() == 1) throw;
      std::cerr << fmt::format("trident: error: [rank {}] {}\n", runtime.world_rank(), e.what());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  });
}

}  // namespace trident::cli
