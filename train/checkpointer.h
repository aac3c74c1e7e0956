#pragma once
// Checkpoints of a training run (core/io/checkpoint_files.h for the directory layout). After a step, every
// rank writes what it owns to its own file, in parallel, nothing gathered to one rank: for every parameter,
// the pieces of its fp32 weights ("model.<name>": a mixed-precision model's masters) and of AdamW's moments
// ("optim.exp_avg.<name>", "optim.exp_avg_sq.<name>") that its ZeRO shard holds of its tensor-, pipeline- or
// expert-parallel slice. Ranks that hold the same state split its writing: the data-parallel ranks of
// unsharded state (ZeRO 0) and the replicas under hybrid sharding each write an equal part of it; a
// parameter replicated over the tensor-parallel group is written by its first rank. Each piece is recorded
// with the region of the global tensor it holds
// (io/regions.h). Rank 0 writes the manifest (step, resolved config and its hash, layout, progress: optimizer
// step, loss scaler, data position, tokens, RNG seed) once every rank's file is on disk, then renames the
// directory into place and points `latest` at it.
//
// Loading reads, on every rank, only the pieces that overlap what it holds under the run's own layout
// (io/checkpoint_reader.h), so a checkpoint saved under any layout resumes under any other; under the same
// layout the run continues bit for bit (the data order and learning rate are functions of the step).
//
// Async saves (checkpoint.async) copy the state to host buffers at the end of the step and write the files on
// a background thread while training goes on; poll() after each step commits the checkpoint once every rank's
// files are written.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/comm/communicator.h"
#include "core/config/trident.pb.h"
#include "core/io/checkpoint_files.h"
#include "train/parallel_model.h"

namespace trident {

class Checkpointer {
 public:
  // root: where step directories go (checkpoint.dir, or RUN_DIR/checkpoints). Every rank constructs it.
  Checkpointer(const config::Config& cfg, ParallelModel& model, comm::Communicator& world, std::string root);
  ~Checkpointer();

  // Saves the state after `step` completed steps; every rank calls it. Synchronous: returns once the
  // checkpoint is complete. Async: returns once the state is copied to host buffers (a save still being
  // written is finished first).
  void save(int64_t step);
  // Async: commits a save whose files every rank has written (a collective: every rank calls it after each
  // step); wait: until then. Does nothing with no save in flight.
  void poll(bool wait = false);
  // Restores every rank from checkpoint directory `dir`, or with "auto" from the newest complete one under
  // root (a corrupt newest one is skipped, saying so). Returns the steps completed; -1 when "auto" finds
  // none.
  int64_t load(const std::string& dir);

  // "tp=2 sp=1 pp=1 v=1 dp=2 ep=1 zero=1 shard=2 precision=fp32 world=4": the layout a checkpoint was saved
  // under (loading under another one reshards).
  std::string layout() const;
  const std::string& root() const { return root_; }
  // Seconds training waited for saves (snapshots, synchronous writes, commits) over the run.
  double stall_s() const { return stall_s_; }

 private:
  struct Pending;
  int64_t load_from(const std::string& dir);  // returns the steps completed
  // What this rank saves, copied to host buffers.
  std::vector<io::StoredPiece> snapshot();
  // Every rank's part gathered, rank 0 writes the manifest and commits the directory.
  void commit(Pending& p);

  config::Config cfg_;
  ParallelModel& model_;
  comm::Communicator& world_;
  std::string root_;
  std::unique_ptr<Pending> pending_;
  double stall_s_ = 0;
};

}  // namespace trident
