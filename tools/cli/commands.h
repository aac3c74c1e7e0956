#pragma once
// Each `trident` subcommand registers itself on the CLI11 app; main() dispatches and turns trident::Error
// into one message and a non-zero exit.
#include <CLI/CLI.hpp>

namespace trident::cli {

void register_train(CLI::App& app);
void register_data(CLI::App& app);
void register_bench(CLI::App& app);
void register_profile(CLI::App& app);
void register_bench_comm(CLI::App& bench);  // under `bench`
void register_generate(CLI::App& app);
void register_info(CLI::App& app);
void register_topo(CLI::App& app);
void register_pp_sim(CLI::App& app);
void register_hf(CLI::App& app);  // `export hf` and `import hf`
void register_plot(CLI::App& app);
void register_checkpoint(CLI::App& app);  // `checkpoint inspect` and `checkpoint export`

}  // namespace trident::cli
