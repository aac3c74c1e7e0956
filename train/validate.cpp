#include "train/validate.h"

#include "core/data/sampler.h"
#include "core/data/shard.h"
#include "pipeline/config_checks.h"
#include "train/trace_writer.h"

namespace trident {

std::vector<std::string> validation_problems(const config::Config& cfg, int world_size) {
  std::vector<std::string> problems = config_problems(cfg, world_size);
  for (std::string& p : pp::config_problems(cfg, world_size)) problems.push_back(std::move(p));
  if (std::string p = trace_steps_problem(cfg.logging().trace_steps()); !p.empty()) problems.push_back(p);
  return problems;
}

void validate(const config::Config& cfg, int world_size) {
  throw_config_problems(validation_problems(cfg, world_size));
}

void check_data(const config::Config& cfg) {
  const config::TrainConfig& t = cfg.train();
  const data::TokenShard train(cfg.data().train_path());
  train.check_vocab(cfg.model().vocab_size());
  [[maybe_unused]] const data::TrainSampler train_sampler(train, t.seq_len(), t.seed());
  if (cfg.data().val_path().empty()) return;
  const data::TokenShard val(cfg.data().val_path());
  val.check_vocab(cfg.model().vocab_size());
  [[maybe_unused]] const data::EvalSampler eval_sampler(val, t.seq_len(), t.global_batch_size());
}

}  // namespace trident
