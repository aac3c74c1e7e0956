// trident info: what this build and this machine offer.
#include <fmt/format.h>

#include <thread>

#include "core/runtime/devices.h"
#include "core/runtime/numerics_fingerprint.h"
#include "core/runtime/rank_placement.h"
#include "core/runtime/threads.h"
#include "core/runtime/version.h"
#include "tools/cli/commands.h"

namespace trident::cli {

void register_info(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Show the build (CUDA or CPU-only) and the devices found");
  cmd->callback([] {
    fmt::print("trident {} | CUDA backend: {} | CPU cores: {}\n", kTridentVersion,
               built_with_cuda() ? "built" : "not built", std::thread::hardware_concurrency());
    // What a rank started here would use, and what it compares with the other nodes' ranks at start.
    const ThreadChoice t = local_cpu_threads();
    fmt::print("host {} | CPU threads per rank: {} (from: {}; {} cores in the affinity mask)\n", host_name(),
               t.threads, thread_source_name(t.source), mask_cores(affinity_mask()));
    std::string numerics;
    for (const NumericsSetting& s : numerics_settings(t.threads, /*cpu_compute=*/true))
      numerics += fmt::format("{}{}: {}", numerics.empty() ? "" : " | ", s.name, s.value);
    fmt::print("numerics: {}\n", numerics);
    std::string why;
    const auto devices = cuda_devices(&why);
    if (devices.empty()) fmt::print("CUDA devices: none ({})\n", why);
    for (const auto& d : devices) {
      fmt::print("cuda:{}  {}  sm_{}{}  {:.1f} GiB\n", d.index, d.name, d.sm_major, d.sm_minor,
                 static_cast<double>(d.total_bytes) / (1 << 30));
    }
  });
}

}  // namespace trident::cli
