// trident: the command-line entry point. Every subcommand lives in its own cmd_*.cpp.
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "core/runtime/error.h"
#include "core/runtime/version.h"
#include "tools/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Trident: pretraining GPT- and LLaMA-style models with 3D parallelism", "trident"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  trident data prepare --input /usr/share/games/fortunes --out data/fortunes\n"
      "  trident train configs/gpt2_tiny.pbtxt --out runs/tiny\n"
      "  trident train configs/llama_tiny.pbtxt --set train.steps=50 --set optim.lr=1e-3\n"
      "  trident generate runs/tiny --prompt \"The \"\n"
      "  trident plot runs/tiny runs/tiny_dp2 --out compare.svg\n"
      "  trident bench train configs/gpt2_tiny.pbtxt\n"
      "Run `trident <command> --help` for a command's options.");
  app.set_version_flag("--version", fmt::format("trident {}", trident::kTridentVersion));
  trident::cli::register_train(app);
  trident::cli::register_data(app);
  trident::cli::register_bench(app);
  trident::cli::register_profile(app);
  trident::cli::register_generate(app);
  trident::cli::register_info(app);
  trident::cli::register_topo(app);
  trident::cli::register_pp_sim(app);
  trident::cli::register_hf(app);
  trident::cli::register_plot(app);
  trident::cli::register_checkpoint(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const trident::Error& e) {
    std::cerr << "trident: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "trident: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "trident: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
