#include "pipeline/config_checks.h"

#include <fmt/format.h>

#include "core/config/config.h"
#include "core/runtime/error.h"
#include "pipeline/schedule.h"

namespace trident::pp {

std::vector<std::string> config_problems(const config::Config& cfg, int world_size) {
  config::Config c = cfg;
  resolve(c, world_size);
  const config::TrainConfig& t = c.train();
  const int pp = c.parallel().pipeline(), v = c.parallel().virtual_stages();
  const int64_t per_step = int64_t{t.micro_batch_size()} * data_parallel_size(c, world_size);
  if (pp < 1 || v < 1 || per_step <= 0 || t.global_batch_size() <= 0 || t.global_batch_size() % per_step != 0)
    return {};
  const int microbatches = static_cast<int>(t.global_batch_size() / per_step);
  try {
    const std::string why = schedule_problem(parse_schedule(t.schedule()), pp, v, microbatches);
    if (!why.empty())
      return {fmt::format("train.schedule '{}' with {} micro-batches per step: {}", t.schedule(),
                          microbatches, why)};
  } catch (const Error& e) {
    return {e.what()};
  }
  return {};
}

}  // namespace trident::pp
