#pragma once
// Checkpoints of a training run (core/io/checkpoint_files.h for the directory layout): after a step, every
// rank writes what it owns to its own file in parallel, nothing gathered to one rank:
//   chunk<c>.params           its model chunks' flat parameters (tp/pp slice), written by data-parallel rank
//   0
//                             (every rank of a data-parallel group holds the same; ZeRO-3 holds none: the
//                             fp32 masters below are the parameters)
//   chunk<c>.experts.params   expert parallelism: its experts, written by expert-data-parallel rank 0
//   optim.*                   the DistributedOptimizer's state_dict: its ZeRO shards of the AdamW moments and
//                             fp32 masters, the step count and the loss scaler
// Rank 0 writes the manifest (step, resolved config, layout, every file's entries with byte ranges and XXH3
// checksums) once every rank's file is on disk, then renames the directory into place and points `latest` at
// it. A run resumes from a checkpoint saved under the same layout (sizes, ZeRO stage, precision), bit for
// bit: the data order and learning rate are functions of the step.
#include <string>

#include "core/comm/communicator.h"
#include "core/config/trident.pb.h"
#include "train/parallel_model.h"

namespace trident {

class Checkpointer {
 public:
  // root: where step directories go (checkpoint.dir, or RUN_DIR/checkpoints). Every rank constructs it.
  Checkpointer(const config::Config& cfg, ParallelModel& model, comm::Communicator& world, std::string root);

  // Saves the state after `step` completed steps; every rank calls it. Returns the seconds it took.
  double save(int64_t step);
  // Restores every rank from checkpoint directory `dir`, or with "auto" from the newest complete one under
  // root (a corrupt newest one is skipped, saying so). Returns the steps completed; -1 when "auto" finds
  // none.
  int64_t load(const std::string& dir);

  // "tp=2 pp=1 v=1 dp=2 ep=1 zero=1 shard=2 precision=fp32 world=4": what a checkpoint must match to resume.
  std::string layout() const;
  const std::string& root() const { return root_; }

 private:
  int64_t load_from(const std::string& dir);  // returns the steps completed

  config::Config cfg_;
  ParallelModel& model_;
  comm::Communicator& world_;
  std::string root_;
};

}  // namespace trident
