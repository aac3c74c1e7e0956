// trident train CONFIG [--set path=value ...] [--out DIR]
#include <filesystem>
#include <memory>

#include "tools/cli/commands.h"
#include "tools/cli/config_args.h"
#include "train/trainer.h"

namespace trident::cli {

namespace {
struct TrainArgs {
  ConfigArgs config;
  std::string out;
};
}  // namespace

void register_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model from a config file");
  args->config.add_to(*cmd);
  cmd->add_option(
      "--out", args->out,
      "Run directory for config.pbtxt, metrics.jsonl and model.safetensors (default: runs/<config name>)");
  cmd->footer(
      "Example:\n"
      "  trident data prepare --input /usr/share/games/fortunes --out data/fortunes\n"
      "  trident train configs/gpt2_tiny.pbtxt --out runs/tiny --set train.steps=100");
  cmd->callback([args] {
    const config::Config cfg = args->config.load();
    std::string out = args->out;
    if (out.empty()) out = "runs/" + std::filesystem::path(args->config.path).stem().string();
    Trainer(cfg, out).run();
  });
}

}  // namespace trident::cli
