#pragma once
// The pipeline executor: interprets one rank's action list (schedule.h) for one optimizer step.
//
//   recv_activation / recv_grad   post a non-blocking receive; the forward / backward that needs it waits
//   forward / backward            run one model chunk on one micro-batch; loss scaled by 1/m
//   send_activation / send_grad   non-blocking send, finished by the end of the step
//   reduce_grads                  the chunk's gradients are complete: the gradient path may reduce them all
//                                 (its buckets start during the chunk's last backward already)
//
// The gradient path (zero::DistributedOptimizer) hears of every backward through models::StepHooks: which
// chunk, whether it is the chunk's last of the step, and how far its flat gradient buffer is final.
//
// Each (micro-batch, chunk) keeps its activation context from its forward to its backward and releases it
// right after, to be reused by the chunk's next forward: a rank holds at most as many contexts as it has
// micro-batches in flight (1F1B: pp - rank). Compute and wait times are recorded per action, so the real
// bubble and a trace of the step can be reported.
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "core/comm/communicator.h"
#include "models/step_hooks.h"
#include "models/transformer.h"
#include "pipeline/chrome_trace.h"
#include "pipeline/schedule.h"

namespace trident::pp {

struct StepTimes {
  double compute_s = 0;               // forward + backward
  double wait_s = 0;                  // blocked on receives and on sends finishing
  double step_s = 0;                  // the whole action list
  double t0_s = 0;                    // when it began, steady-clock seconds (events are relative to it)
  std::vector<TraceEvent> events;     // compute and waits, microseconds from the step's start (tid: pp rank)
  std::vector<Action> event_actions;  // the action of each event (a wait: the action that waited)
};

class PipelineExecutor {
 public:
  // chunks[c]: this rank's model chunk c (stage c * pp + rank); pp: the pipeline group; hooks: told of every
  // backward (null: nobody reduces); microbatch_tokens: B*T of every micro-batch (receive buffers).
  PipelineExecutor(std::vector<models::Transformer*> chunks, comm::Communicator& pp, models::StepHooks* hooks,
                   int microbatches, int64_t microbatch_tokens);

  // Fills the micro-batch's tokens and targets (B, T) i32, into fresh tensors; called once per forward.
  using BatchFn = std::function<void(int microbatch, Tensor& tokens, Tensor& targets)>;
  // Runs the actions of one step; returns the sum over micro-batches of loss / m on the last stage, 0 on
  // the others. Backward differentiates loss / m x loss_scale (fp16 loss scaling). Ends with every send
  // complete and the hooks' finish() done. A list without backward (forward_only_actions: evaluation) runs
  // without telling the hooks anything, and releases each activation context once its output is sent.
  double run(const std::vector<Action>& actions, const BatchFn& batch, double loss_scale = 1.0);
  const StepTimes& times() const { return times_; }

 private:
  using Key = std::pair<int, int>;  // (chunk, microbatch)
  struct Pending {
    comm::WorkPtr work;
    Tensor buffer;
  };
  int tag(bool grad, int stage, int microbatch) const;
  void wait(Pending& p, const char* what, const Action& a);
  // The received buffer of a posted receive for `key`, after waiting for it; undefined if none was posted.
  Tensor take_recv(std::map<Key, Pending>& posted, const Key& key, const Action& a);
  void record(const Action& a, const char* category, double start, double end);
  // The context's buffers go to the chunk's next forward.
  void release(std::map<Key, models::ModelActs>::iterator it, int chunk);

  std::vector<models::Transformer*> chunks_;
  comm::Communicator& pp_;
  models::StepHooks* hooks_;
  int microbatches_;
  int64_t microbatch_tokens_;
  std::map<Key, models::ModelActs> acts_;
  std::vector<std::vector<models::ModelActs>> spare_;  // per chunk: contexts whose backward is done
  std::map<Key, Pending> recv_act_, recv_grad_;
  std::vector<Pending> sends_;
  StepTimes times_;
  double t0_ = 0;
};

}  // namespace trident::pp
