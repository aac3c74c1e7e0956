#include "tools/cli/config_args.h"

#include "core/config/config.h"
#include "train/validate.h"

namespace trident::cli {

void ConfigArgs::add_to(CLI::App& cmd) {
  cmd.add_option("config", path,
                 "Config file (.pbtxt protobuf text format, or .json), e.g. configs/gpt2_tiny.pbtxt")
      ->required();
  cmd.add_option("--set", sets,
                 "Override a field, e.g. --set train.steps=100 --set optim.lr=1e-3 (repeatable)")
      ->allow_extra_args(false);
}

config::Config ConfigArgs::parse() const {
  config::Config cfg = load_config(path);
  apply_overrides(cfg, sets);
  return cfg;
}

config::Config ConfigArgs::load(int world_size) const {
  config::Config cfg = parse();
  resolve(cfg, world_size);
  validate(cfg, world_size);
  return cfg;
}

}  // namespace trident::cli
