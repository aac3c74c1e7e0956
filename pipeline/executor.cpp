#include "pipeline/executor.h"

#include "core/runtime/clock.h"

namespace trident::pp {

PipelineExecutor::PipelineExecutor(std::vector<models::Transformer*> chunks, comm::Communicator& pp,
                                   models::StepHooks* hooks, int microbatches, int64_t microbatch_tokens)
    : chunks_(std::move(chunks)),
      pp_(pp),
      hooks_(hooks),
      microbatches_(microbatches),
      microbatch_tokens_(microbatch_tokens) {
  TRIDENT_CHECK(!chunks_.empty(), "a pipeline rank without model chunks");
  spare_.resize(chunks_.size());
  const int64_t stages = static_cast<int64_t>(pp.size()) * static_cast<int64_t>(chunks_.size());
  // Every message gets its own tag; MPI guarantees tags up to 32767.
  if (2 * stages * microbatches_ > 32767)
    fail("pipeline of {} stages x {} micro-batches needs more than the 32767 message tags MPI guarantees",
         stages, microbatches_);
}

int PipelineExecutor::tag(bool grad, int stage, int microbatch) const {
  return 2 * (stage * microbatches_ + microbatch) + (grad ? 1 : 0);
}

void PipelineExecutor::wait(Pending& p, const char* what, const Action& a) {
  const double start = now_s();
  p.work->wait();
  const double end = now_s();
  times_.wait_s += end - start;
  if (end - start > 1e-6) record(a, what, start, end);
}

Tensor PipelineExecutor::take_recv(std::map<Key, Pending>& posted, const Key& key, const Action& a) {
  auto it = posted.find(key);
  if (it == posted.end()) return {};  // the first (or last) stage: nothing to receive
  wait(it->second, "wait", a);
  Tensor buffer = it->second.buffer;
  posted.erase(it);
  return buffer;
}

void PipelineExecutor::record(const Action& a, const char* category, double start, double end) {
  TraceEvent e;
  e.name = std::string(category == std::string("wait") ? "wait " : "") + action_str(a);
  e.category = category;
  e.tid = pp_.rank();
  e.start_us = (start - t0_) * 1e6;
  e.dur_us = (end - start) * 1e6;
  times_.events.push_back(std::move(e));
  times_.event_actions.push_back(a);
}

void PipelineExecutor::release(std::map<Key, models::ModelActs>::iterator it, int chunk) {
  spare_[chunk].push_back(std::move(it->second));
  acts_.erase(it);
}

double PipelineExecutor::run(const std::vector<Action>& actions, const BatchFn& batch, double loss_scale) {
  times_ = {};
  t0_ = now_s();
  times_.t0_s = t0_;
  bool forward_only = true;
  for (const Action& a : actions) forward_only = forward_only && a.kind != ActionKind::backward;
  models::StepHooks* hooks = forward_only ? nullptr : hooks_;
  // The last backward of each chunk: its gradients are complete after it.
  std::map<int, size_t> last_backward;
  for (size_t i = 0; i < actions.size(); ++i)
    if (actions[i].kind == ActionKind::backward) last_backward[actions[i].chunk] = i;

  const double scale = 1.0 / microbatches_;
  double loss = 0.0;
  for (size_t i = 0; i < actions.size(); ++i) {
    const Action& a = actions[i];
    models::Transformer* chunk = a.chunk >= 0 ? chunks_.at(a.chunk) : nullptr;
    const Key key{a.chunk, a.microbatch};
    switch (a.kind) {
      case ActionKind::recv_activation:
      case ActionKind::recv_grad: {
        const bool grad = a.kind == ActionKind::recv_grad;
        Pending p{nullptr, chunk->boundary_buffer(microbatch_tokens_)};
        // The sender's stage: the previous one for activations, the next one for gradients.
        p.work = pp_.recv_async(p.buffer, a.peer, tag(grad, grad ? a.stage + 1 : a.stage - 1, a.microbatch));
        (grad ? recv_grad_ : recv_act_)[key] = std::move(p);
        break;
      }
      case ActionKind::forward: {
        const Tensor input = take_recv(recv_act_, key, a);
        // Fresh tensors: the activation context keeps them until this micro-batch's backward.
        Tensor mb_tokens, mb_targets;
        batch(a.microbatch, mb_tokens, mb_targets);
        const double start = now_s();
        models::ModelActs& acts = acts_[key];
        if (!spare_[a.chunk].empty()) {
          acts = std::move(spare_[a.chunk].back());
          spare_[a.chunk].pop_back();
        }
        // The units' parameter hooks run in forward-only passes too (ZeRO-3 gathers for evaluation).
        loss += chunk->forward(acts, mb_tokens, mb_targets, input, hooks_, a.chunk) * scale;
        const double end = now_s();
        times_.compute_s += end - start;
        record(a, "forward", start, end);
        if (forward_only && chunk->chunk().last) release(acts_.find(key), a.chunk);  // nothing to send
        break;
      }
      case ActionKind::backward: {
        const Tensor dout = take_recv(recv_grad_, key, a);
        const bool last = last_backward.at(a.chunk) == i;
        models::Transformer::GradsReady ready;
        if (hooks) {
          hooks->backward_begin(a.chunk, last);
          ready = [hooks, c = a.chunk](int64_t n) { hooks->grads_ready(c, n); };
        }
        auto it = acts_.find(key);
        TRIDENT_CHECK(it != acts_.end(), "{} before its forward", action_str(a));
        const double start = now_s();
        chunk->backward(it->second, scale * loss_scale, ready, dout, hooks, a.chunk);
        const double end = now_s();
        times_.compute_s += end - start;
        record(a, "backward", start, end);
        if (hooks) hooks->backward_end(a.chunk, last);
        // This micro-batch's activations are no longer needed: their buffers go to the next forward of the
        // chunk (reallocating them every micro-batch costs 20% of a CPU step in page faults).
        release(it, a.chunk);
        break;
      }
      case ActionKind::send_activation: {
        auto it = acts_.find(key);
        TRIDENT_CHECK(it != acts_.end(), "{} before its forward", action_str(a));
        // The output stays alive in the activation context until this micro-batch's backward; without one,
        // the context goes to the next forward at once and the send keeps a copy.
        Pending p{nullptr, forward_only ? it->second.residual.back().clone() : it->second.residual.back()};
        p.work = pp_.send_async(p.buffer, a.peer, tag(false, a.stage, a.microbatch));
        sends_.push_back(std::move(p));
        if (forward_only) release(it, a.chunk);
        break;
      }
      case ActionKind::send_grad: {
        // The input gradient is overwritten by the next backward: send a copy.
        Pending p{nullptr, chunk->input_grad().clone()};
        p.work = pp_.send_async(p.buffer, a.peer, tag(true, a.stage, a.microbatch));
        sends_.push_back(std::move(p));
        break;
      }
      case ActionKind::reduce_grads:
        if (hooks) hooks->grads_ready(a.chunk, chunk->params().flat_numel());
        break;
      case ActionKind::optimizer_step:
        break;  // the trainer steps once every gradient is final
    }
  }
  for (Pending& p : sends_) wait(p, "wait", Action{ActionKind::optimizer_step});  // sends finishing
  sends_.clear();
  TRIDENT_CHECK(recv_act_.empty() && recv_grad_.empty() && acts_.empty(),
                "pipeline step ended with {} receives and {} activation contexts left",
                recv_act_.size() + recv_grad_.size(), acts_.size());
  const double start = now_s();
  if (hooks) hooks->finish();
  times_.wait_s += now_s() - start;
  times_.step_s = now_s() - t0_;
  return loss;
}

}  // namespace trident::pp
