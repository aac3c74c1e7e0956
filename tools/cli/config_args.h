#pragma once
// The CONFIG [--set path=value ...] arguments shared by train, bench and topo.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "core/config/trident.pb.h"

namespace trident::cli {

struct ConfigArgs {
  std::string path;
  std::vector<std::string> sets;

  void add_to(CLI::App& cmd);
  // load and apply --set overrides (no defaults resolved, nothing validated).
  config::Config parse() const;
  // parse, resolve defaults, validate for world_size ranks (one message listing every problem).
  config::Config load(int world_size = 1) const;
};

}  // namespace trident::cli
