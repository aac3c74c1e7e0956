// GPipe, 1F1B and interleaved 1F1B as action lists, with Megatron-LM's orderings and warmup counts.
#include "pipeline/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "core/runtime/error.h"

namespace trident::pp {
namespace {

struct Layout {
  int pp, v, m, rank;
  int stages() const { return pp * v; }
  int stage(int chunk) const { return chunk * pp + rank; }
  int rank_of(int stage) const { return stage % pp; }
};

// The (microbatch, chunk) this rank runs as its k-th forward or k-th backward (k over m * v).
struct Unit {
  int microbatch, chunk;
};
using UnitOrder = std::function<Unit(int k)>;

void add_forward(std::vector<Action>& out, const Layout& l, Unit u) {
  const int s = l.stage(u.chunk);
  if (s > 0) out.push_back({ActionKind::recv_activation, u.microbatch, u.chunk, s, l.rank_of(s - 1)});
  out.push_back({ActionKind::forward, u.microbatch, u.chunk, s});
  if (s < l.stages() - 1)
    out.push_back({ActionKind::send_activation, u.microbatch, u.chunk, s, l.rank_of(s + 1)});
}

void add_backward(std::vector<Action>& out, const Layout& l, Unit u, std::vector<int>& backwards_done) {
  const int s = l.stage(u.chunk);
  if (s < l.stages() - 1) out.push_back({ActionKind::recv_grad, u.microbatch, u.chunk, s, l.rank_of(s + 1)});
  out.push_back({ActionKind::backward, u.microbatch, u.chunk, s});
  if (s > 0) out.push_back({ActionKind::send_grad, u.microbatch, u.chunk, s, l.rank_of(s - 1)});
  // The chunk's gradients are complete: its data-parallel reduction can start while other chunks go on.
  if (++backwards_done[u.chunk] == l.m) out.push_back({ActionKind::reduce_grads, -1, u.chunk, s});
}

// The skeleton all three schedules share: `warmup` forwards, then steady 1F1B pairs (forward k + warmup,
// backward k), then the remaining backwards. GPipe is the case warmup = all forwards.
std::vector<Action> one_f_one_b_skeleton(const Layout& l, int warmup, const UnitOrder& fwd,
                                         const UnitOrder& bwd) {
  const int total = l.m * l.v;
  const int steady = total - warmup;
  std::vector<Action> out;
  std::vector<int> backwards_done(l.v, 0);
  for (int k = 0; k < warmup; ++k) add_forward(out, l, fwd(k));
  for (int k = 0; k < steady; ++k) {
    add_forward(out, l, fwd(k + warmup));
    add_backward(out, l, bwd(k), backwards_done);
  }
  for (int k = steady; k < total; ++k) add_backward(out, l, bwd(k), backwards_done);
  out.push_back({ActionKind::optimizer_step});
  return out;
}

Unit in_order(int k) {
  return {k, 0};
}

std::vector<Action> gpipe(const Layout& l) {
  return one_f_one_b_skeleton(l, l.m, in_order, in_order);
}

std::vector<Action> one_f_one_b(const Layout& l) {
  // A rank needs the gradients of the pp - rank - 1 later stages before its first backward: fill that wait
  // with forwards.
  const int warmup = std::min(l.pp - l.rank - 1, l.m);
  return one_f_one_b_skeleton(l, warmup, in_order, in_order);
}

std::vector<Action> interleaved_1f1b(const Layout& l) {
  if (l.v == 1) return one_f_one_b(l);
  const int total = l.m * l.v;
  // Megatron's rule: with exactly pp microbatches there is no steady state to speak of, run all forwards
  // first. Otherwise the first (v - 1) * pp forwards (every chunk but the last, one group of pp microbatches
  // each) run on all ranks, plus 2 per later rank: the activation of microbatch 0 has to cross the pp - rank
  // - 1 later ranks on the last chunk and its gradient has to cross them back.
  int warmup = total;
  if (l.m != l.pp) warmup = std::min((l.pp - l.rank - 1) * 2 + (l.v - 1) * l.pp, total);
  // Microbatches go in groups of pp: a group runs through chunk 0, then chunk 1, ..., then the next group.
  const auto microbatch = [&l](int k) { return (k / (l.pp * l.v)) * l.pp + k % l.pp; };
  const UnitOrder fwd = [&l, microbatch](int k) { return Unit{microbatch(k), (k / l.pp) % l.v}; };
  const UnitOrder bwd = [&l, microbatch](int k) { return Unit{microbatch(k), l.v - 1 - (k / l.pp) % l.v}; };
  return one_f_one_b_skeleton(l, warmup, fwd, bwd);
}

}  // namespace

ScheduleKind parse_schedule(const std::string& name) {
  for (ScheduleKind kind : {ScheduleKind::gpipe, ScheduleKind::one_f_one_b, ScheduleKind::interleaved_1f1b}) {
    if (name == schedule_name(kind)) return kind;
  }
  fail("unknown pipeline schedule '{}': expected one of gpipe, 1f1b, interleaved_1f1b", name);
}

const char* schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::gpipe:
      return "gpipe";
    case ScheduleKind::one_f_one_b:
      return "1f1b";
    case ScheduleKind::interleaved_1f1b:
      return "interleaved_1f1b";
  }
  return "?";
}

std::string action_str(const Action& a) {
  switch (a.kind) {
    case ActionKind::forward:
      return fmt::format("F{}c{}", a.microbatch, a.chunk);
    case ActionKind::backward:
      return fmt::format("B{}c{}", a.microbatch, a.chunk);
    case ActionKind::recv_activation:
      return fmt::format("recv_act mb{} c{} from {}", a.microbatch, a.chunk, a.peer);
    case ActionKind::send_activation:
      return fmt::format("send_act mb{} c{} to {}", a.microbatch, a.chunk, a.peer);
    case ActionKind::recv_grad:
      return fmt::format("recv_grad mb{} c{} from {}", a.microbatch, a.chunk, a.peer);
    case ActionKind::send_grad:
      return fmt::format("send_grad mb{} c{} to {}", a.microbatch, a.chunk, a.peer);
    case ActionKind::reduce_grads:
      return fmt::format("reduce_grads c{}", a.chunk);
    case ActionKind::optimizer_step:
      return "optimizer_step";
  }
  return "?";
}

std::string schedule_problem(ScheduleKind kind, int pp, int virtual_stages, int microbatches) {
  const char* name = schedule_name(kind);
  if (pp < 1) return fmt::format("pipeline size must be at least 1, got {}", pp);
  if (microbatches < 1) return fmt::format("microbatches must be at least 1, got {}", microbatches);
  if (virtual_stages < 1) return fmt::format("virtual stages must be at least 1, got {}", virtual_stages);
  if (kind != ScheduleKind::interleaved_1f1b && virtual_stages != 1) {
    return fmt::format(
        "schedule {} runs one model chunk per rank (virtual stages 1), got virtual stages {}; "
        "use interleaved_1f1b for more",
        name, virtual_stages);
  }
  if (virtual_stages > 1 && pp == 1) {
    return fmt::format(
        "interleaved_1f1b with {} virtual stages needs pipeline size > 1: with one pipeline rank "
        "there is nothing to interleave (use virtual stages 1)",
        virtual_stages);
  }
  if (virtual_stages > 1 && microbatches % pp != 0) {
    return fmt::format(
        "interleaved_1f1b with {} virtual stages needs microbatches ({}) divisible by the pipeline "
        "size ({}): microbatches go through the chunks in groups of pp (Megatron's rule)",
        virtual_stages, microbatches, pp);
  }
  return "";
}

std::vector<Action> schedule_actions(ScheduleKind kind, int pp, int virtual_stages, int microbatches,
                                     int rank) {
  if (const std::string problem = schedule_problem(kind, pp, virtual_stages, microbatches); !problem.empty())
    fail("{}", problem);
  if (rank < 0 || rank >= pp) fail("pipeline rank {} is outside pipeline size {}", rank, pp);
  const Layout l{pp, virtual_stages, microbatches, rank};
  switch (kind) {
    case ScheduleKind::gpipe:
      return gpipe(l);
    case ScheduleKind::one_f_one_b:
      return one_f_one_b(l);
    case ScheduleKind::interleaved_1f1b:
      return interleaved_1f1b(l);
  }
  fail("unknown schedule kind {}", static_cast<int>(kind));
}

std::vector<Action> forward_only_actions(int pp, int virtual_stages, int microbatches, int rank) {
  if (pp < 1 || virtual_stages < 1 || microbatches < 1 || rank < 0 || rank >= pp)
    fail("forward-only pipeline: rank {} of {}, {} virtual stages, {} micro-batches", rank, pp,
         virtual_stages, microbatches);
  const Layout l{pp, virtual_stages, microbatches, rank};
  std::vector<Action> out;
  for (int mb = 0; mb < microbatches; ++mb)
    for (int c = 0; c < virtual_stages; ++c) add_forward(out, l, {mb, c});
  return out;
}

}  // namespace trident::pp
