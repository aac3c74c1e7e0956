// trident info: what this build and this machine offer.
#include <fmt/format.h>

#include <thread>

#include "core/runtime/devices.h"
#include "tools/cli/commands.h"

namespace trident::cli {

void register_info(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("info", "Show the build (CUDA or CPU-only) and the devices found");
  cmd->callback([] {
    fmt::print("trident 0.1.0 | CUDA backend: {} | CPU cores: {}\n",
               built_with_cuda() ? "built" : "not built", std::thread::hardware_concurrency());
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
