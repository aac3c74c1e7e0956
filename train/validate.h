#pragma once
// The whole config check every entry point runs before any rank communicates: core's (core/config) and the
// pipeline's (pipeline/config_checks.h), every problem at once, in plain words.
#include <string>
#include <vector>

#include "core/config/config.h"

namespace trident {

// Every problem with the (resolved copy of the) config; empty when it is good.
std::vector<std::string> validation_problems(const config::Config& cfg, int world_size = 1);
// Throws one trident::Error listing every problem: "config has 3 problems:\n  - ...\n  - ...".
void validate(const config::Config& cfg, int world_size = 1);

}  // namespace trident
