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
  // load, apply --set overrides, resolve defaults, validate (one message listing every problem).
  config::Config load() const;
};

}  // namespace trident::cli
