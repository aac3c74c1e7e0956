#pragma once
// This rank's part of the model under tensor x pipeline x data parallelism, and the step that trains it.
//
// The mesh gives each rank a tensor-parallel group (every chunk is split over it), a pipeline group (its
// chunks are stages c * pp + rank) and a data-parallel group. A step runs the schedule's action list through
// the pipeline executor, which tells the DistributedOptimizer (zero/) of every backward; the optimizer then
// owns everything from the gradients to the update (data-parallel average, partial sums, norm, clipping,
// AdamW). ParallelModel itself holds only the groups, the chunks, the executor and the step sequence.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/comm/bootstrap.h"
#include "core/comm/communicator.h"
#include "core/config/trident.pb.h"
#include "models/transformer.h"
#include "pipeline/executor.h"
#include "pipeline/schedule.h"
#include "zero/distributed_optimizer.h"

namespace trident {

class ParallelModel {
 public:
  // Every rank of `world` constructs it together; cfg is resolved and validated for world.size() ranks.
  ParallelModel(const config::Config& cfg, comm::Communicator& world);

  const models::ModelSpec& spec() const { return chunks_.front()->spec(); }
  comm::Communicator& tp() { return *tp_; }
  comm::Communicator& pp() { return *pp_; }
  comm::Communicator& dp() { return *dp_; }
  comm::Communicator* ep() { return ep_.get(); }  // expert parallelism's groups: null without
  comm::Communicator* edp() { return edp_.get(); }
  zero::DistributedOptimizer& optimizer() { return *optimizer_; }
  int microbatches() const { return microbatches_; }
  size_t num_chunks() const { return chunks_.size(); }  // virtual stages on this rank
  models::Transformer& chunk(size_t c) { return *chunks_.at(c); }
  int64_t local_numel() const;                        // parameters this rank holds
  comm::Backend backend() const { return backend_; }  // comm.backend, resolved for the model's device
  // Which backend carries which group, for the log: "comm: nccl for tp[0], pp[0], dp[0,1] on device
  // tensors; ..." or "comm: mpi for every group (...)".
  std::string comm_line() const;

  using BatchFn = pp::PipelineExecutor::BatchFn;
  struct StepResult {
    double loss = 0, grad_norm = 0;
    bool skipped = false;   // fp16: the gradients overflowed; no update, the loss scale was backed off
    double loss_scale = 1;  // the scale this step's backward used
    pp::StepTimes times;    // this rank's pipeline timing
    // An MoE model's routing over the whole global batch (every stage's layers, every replica's tokens);
    // aux and z losses as the loss: the mean over micro-batches and replicas. Empty for a dense model.
    moe::MoeStats moe;
  };
  // One optimizer step over the micro-batches `batch` fills (identical on every rank of a tp x pp replica).
  StepResult train_step(double lr, const BatchFn& batch);
  // The mean loss over the micro-batches `batch` fills, forward only through the pipeline (the executor
  // runs pp::forward_only_actions); every rank of the replica calls it and gets the loss.
  double eval_loss(const BatchFn& batch);
  // Sets every parameter from global tensors (name -> tensor at its global shape, under `prefix`): each rank
  // takes its tensor-parallel shard of its own stages' parameters, and the fp32 masters take the values
  // unrounded in mixed precision. Tensors of other stages are ignored.
  void load_global(const std::map<std::string, Tensor>& tensors, const std::string& prefix = "");
  // Every parameter at its global shape on world rank 0 (empty elsewhere); every rank calls it.
  std::map<std::string, Tensor> gather_to_main();
  // With tp = pp = 1 and the parameters held in full (ZeRO below 3): the model itself (for sampling); else
  // null.
  models::Transformer* whole_model() {
    return tp_->size() == 1 && pp_->size() == 1 && zero_stage_ < 3 ? chunks_[0].get() : nullptr;
  }

 private:
  void make_groups(const config::Config& cfg, comm::Communicator& world);
  // This step's MoE statistics from every chunk, summed over the pipeline and data-parallel groups.
  moe::MoeStats moe_step_stats();

  comm::Communicator& world_;
  std::unique_ptr<comm::Communicator> tp_, pp_, dp_, embedding_;  // embedding_: first + last stage, if tied
  std::unique_ptr<comm::Communicator> shard_, replica_;           // hybrid sharding: parts of dp_ (else null)
  std::unique_ptr<comm::Communicator> ep_, edp_;                  // expert parallelism (else null)
  std::vector<std::unique_ptr<models::Transformer>> chunks_;
  std::unique_ptr<zero::DistributedOptimizer> optimizer_;
  std::unique_ptr<pp::PipelineExecutor> executor_;
  std::vector<pp::Action> actions_, eval_actions_;
  int microbatches_ = 1;
  int zero_stage_ = 0;
  comm::Backend backend_ = comm::Backend::mpi;
  bool pp_p2p_on_device_ = true;  // nccl: the pipeline's sends and recvs on NCCL (not under interleaved)
};

}  // namespace trident
