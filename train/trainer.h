#pragma once
// The training loop: micro-batches through the pipeline schedule up to the global batch, AdamW with warmup +
// cosine LR, clipping by global norm, periodic evaluation on the val split, metrics.jsonl, and a text sample
// at the end. The model is split over the world by ParallelModel (tensor x pipeline x data parallelism).
#include <memory>
#include <string>

#include "core/comm/communicator.h"
#include "core/config/trident.pb.h"
#include "core/data/sampler.h"
#include "core/optim/lr_schedule.h"
#include "core/runtime/metrics.h"
#include "core/runtime/peak_flops.h"
#include "train/checkpointer.h"
#include "train/parallel_model.h"
#include "train/run_summary.h"
#include "zero/memory_report.h"

namespace trident {

struct TrainResult {
  double final_loss = 0.0;
  double final_val_loss = -1.0;  // -1: no evaluation ran
  std::string sample;            // generated text, empty when sample_tokens is 0
  bool stopped = false;          // --save-on-exit: a signal stopped the run early (checkpoint saved)
};

class Trainer {
 public:
  // cfg must be resolved and validated for world.size() ranks. out_dir may be empty (no files written).
  // Every rank of `world` constructs its Trainer together. resume: a checkpoint directory to continue from,
  // "auto" (the newest complete one under the checkpoint root, if any), or empty. save_on_exit: SIGTERM or
  // SIGINT ends the run after the current step with a checkpoint (train/stop_signal.h).
  Trainer(const config::Config& cfg, std::string out_dir, comm::Communicator& world, std::string resume = "",
          bool save_on_exit = false);

  TrainResult run();
  ParallelModel& model() { return *model_; }
  // Mean loss over eval_steps batches of the val split.
  double evaluate();

 private:
  void log_step(int64_t step, const ParallelModel::StepResult& r, double lr, double step_s);
  std::string sample_text(const std::map<std::string, Tensor>& weights);
  void check_same_config();
  bool is_main() const { return world_.rank() == 0; }
  // --save-on-exit: whether any rank was signalled (every rank agrees; a collective when saving on exit).
  bool stop_requested(int64_t step);

  config::Config cfg_;
  std::string out_dir_;
  comm::Communicator& world_;
  std::unique_ptr<ParallelModel> model_;
  // Saves under its root (empty when the run writes no files and names no checkpoint dir: it only resumes).
  std::unique_ptr<Checkpointer> checkpointer_;
  std::string resume_;
  bool save_on_exit_ = false;
  LrSchedule schedule_;
  std::unique_ptr<data::TokenShard> train_shard_, val_shard_;
  std::unique_ptr<data::TrainSampler> train_sampler_;
  std::unique_ptr<data::EvalSampler> eval_sampler_;
  MetricsWriter metrics_;
  double elapsed_s_ = 0.0;
  int64_t first_step_ = 0;     // the step this run started at (after a resume, the checkpoint's)
  bool mfu_warned_ = false;    // MFU above 100% (a wrong peak) was reported
  zero::MemoryReport memory_;  // at start: model state by category, against its ZeRO formula
  Device device_ = Device::cpu();
  PeakFlops peak_;                // one rank's, for MFU (known on rank 0 only; tflops 0: unknown)
  double flops_per_token_ = 0.0;  // 6N + 6*L*T*C (models::ModelSpec::flops_per_token)
  RunSummary summary_;            // the table at the end
};

}  // namespace trident
