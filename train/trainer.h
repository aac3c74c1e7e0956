#pragma once
// The training loop: micro-batches with gradient accumulation up to the global batch, AdamW with warmup +
// cosine LR, clipping by global norm, periodic evaluation on the val split, metrics.jsonl, and a text sample
// at the end. Over the world the mesh gives each rank a tensor-parallel group (the model is split over it)
// and a data-parallel group (the global batch is split over it and gradients are averaged across it).
#include <memory>
#include <optional>
#include <string>

#include "core/comm/communicator.h"
#include "core/config/trident.pb.h"
#include "core/data/sampler.h"
#include "core/optim/adamw.h"
#include "core/optim/lr_schedule.h"
#include "core/runtime/metrics.h"
#include "models/transformer.h"
#include "zero/grad_reducer.h"

namespace trident {

struct TrainResult {
  double final_loss = 0.0;
  double final_val_loss = -1.0;  // -1: no evaluation ran
  std::string sample;            // generated text, empty when sample_tokens is 0
};

class Trainer {
 public:
  // cfg must be resolved and validated for world.size() ranks. out_dir may be empty (no files written).
  // Every rank of `world` constructs its Trainer together.
  Trainer(const config::Config& cfg, std::string out_dir, comm::Communicator& world);

  TrainResult run();
  models::Transformer& model() { return *model_; }
  // Mean loss over eval_steps batches of the val split.
  double evaluate();

 private:
  void train_step(int64_t step, double& loss, double& norm, double& lr);
  void log_step(int64_t step, double loss, double norm, double lr, double step_s);
  std::string sample_text();
  void check_same_config();
  void make_groups();
  bool is_main() const { return world_.rank() == 0; }

  config::Config cfg_;
  std::string out_dir_;
  comm::Communicator& world_;
  std::unique_ptr<comm::Communicator> tp_comm_, dp_comm_;
  comm::Communicator* dp_ = nullptr;  // dp_comm_
  std::unique_ptr<zero::GradReducer> reducer_;
  std::unique_ptr<models::Transformer> model_;
  std::unique_ptr<AdamW> optim_;
  LrSchedule schedule_;
  std::unique_ptr<data::TokenShard> train_shard_, val_shard_;
  std::unique_ptr<data::TrainSampler> train_sampler_;
  std::unique_ptr<data::EvalSampler> eval_sampler_;
  MetricsWriter metrics_;
  models::ModelActs acts_;
  Tensor tokens_, targets_;
  int64_t accum_steps_ = 1;
  double elapsed_s_ = 0.0;
};

}  // namespace trident
