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
// Opens the token shards the (validated) config names, as the Trainer will: each must exist, be a token shard
// from a vocabulary that fits model.vocab_size, and hold more than seq_len tokens. Throws the first problem.
void check_data(const config::Config& cfg);

}  // namespace trident
