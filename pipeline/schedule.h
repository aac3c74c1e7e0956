#pragma once
// Pipeline schedules are data: a pure function (schedule, pp, virtual stages, microbatches, rank) -> the
// ordered actions that rank executes for one optimizer step. The simulator runs every rank's list together
// (deadlock freedom, bubble, activation memory); the executor only interprets the actions.
//
// Layout (Megatron's interleaved one): S = pp * v virtual stages; stage s = chunk * pp + rank lives on rank
// s % pp as its local model chunk s / pp. A microbatch's forward goes stage 0 -> S-1, its backward S-1 -> 0.
#include <cstdint>
#include <string>
#include <vector>

namespace trident::pp {

enum class ScheduleKind : uint8_t { gpipe, one_f_one_b, interleaved_1f1b };

// "gpipe" | "1f1b" | "interleaved_1f1b"; anything else fails with the valid names.
ScheduleKind parse_schedule(const std::string& name);
const char* schedule_name(ScheduleKind kind);

enum class ActionKind : uint8_t {
  recv_activation,
  forward,
  send_activation,
  recv_grad,
  backward,
  send_grad,
  reduce_grads,
  optimizer_step
};

struct Action {
  ActionKind kind;
  int microbatch = -1;  // -1 for reduce_grads and optimizer_step
  int chunk = -1;       // local model chunk on this rank (0..v-1); -1 for optimizer_step
  int stage = -1;       // global virtual stage of that chunk = chunk * pp + rank
  int peer = -1;        // send/recv: the pipeline rank on the other end; else -1
  bool operator==(const Action&) const = default;
};

// "F3c1", "B0c0", "recv_act mb3 c1 from 2", "send_grad mb0 c1 to 3", "reduce_grads c0", "optimizer_step".
std::string action_str(const Action& a);

// Why (kind, pp, v, m) is not a valid combination, or "" if it is.
std::string schedule_problem(ScheduleKind kind, int pp, int virtual_stages, int microbatches);

// The ordered actions pipeline rank `rank` executes for one optimizer step. Recvs sit right before the
// compute that uses them, sends right after the compute that produced their data; reduce_grads(c) follows the
// last backward of chunk c (after its send_grad); optimizer_step is last. Fails on an invalid combination.
std::vector<Action> schedule_actions(ScheduleKind kind, int pp, int virtual_stages, int microbatches,
                                     int rank);

// Evaluation: every (microbatch, chunk) forward, microbatch by microbatch, with the sends and recvs that
// carry the activations between stages, and no backward, reduce or step. The loss of microbatch i is on the
// last stage once its forward ran.
std::vector<Action> forward_only_actions(int pp, int virtual_stages, int microbatches, int rank);

}  // namespace trident::pp
