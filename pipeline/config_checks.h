#pragma once
// What only the pipeline can say about a config: whether train.schedule names a schedule, and whether it
// fits the stages and the micro-batches per step. Part of validate() (train/validate.h).
#include <string>
#include <vector>

#include "core/config/trident.pb.h"

namespace trident::pp {

// Every problem, in plain words; empty when the schedule fits (or when the batch arithmetic is already wrong,
// which core's checks report).
std::vector<std::string> config_problems(const config::Config& cfg, int world_size);

}  // namespace trident::pp
