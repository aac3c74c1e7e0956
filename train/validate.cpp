#include "train/validate.h"

#include "pipeline/config_checks.h"

namespace trident {

std::vector<std::string> validation_problems(const config::Config& cfg, int world_size) {
  std::vector<std::string> problems = config_problems(cfg, world_size);
  for (std::string& p : pp::config_problems(cfg, world_size)) problems.push_back(std::move(p));
  return problems;
}

void validate(const config::Config& cfg, int world_size) {
  throw_config_problems(validation_problems(cfg, world_size));
}

}  // namespace trident
