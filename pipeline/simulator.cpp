// The pipeline simulator: validation of the action lists, then list scheduling on a model clock.
#include "pipeline/simulator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "core/runtime/error.h"

namespace trident::pp {
namespace {

bool is_p2p(ActionKind k) {
  return k == ActionKind::recv_activation || k == ActionKind::send_activation || k == ActionKind::recv_grad ||
         k == ActionKind::send_grad;
}
bool is_compute(ActionKind k) {
  return k == ActionKind::forward || k == ActionKind::backward;
}

// Where the actions of one (rank, chunk, microbatch) sit in that rank's list; -1: absent.
struct Slots {
  int recv_act = -1, forward = -1, send_act = -1, recv_grad = -1, backward = -1, send_grad = -1;
  int& of(ActionKind k) {
    switch (k) {
      case ActionKind::recv_activation:
        return recv_act;
      case ActionKind::forward:
        return forward;
      case ActionKind::send_activation:
        return send_act;
      case ActionKind::recv_grad:
        return recv_grad;
      case ActionKind::backward:
        return backward;
      default:
        return send_grad;
    }
  }
};

// All ranks' lists, indexed by (rank, chunk, microbatch).
struct Grid {
  const std::vector<std::vector<Action>>& lists;
  int pp = 0, v = 0, m = 0;
  std::vector<Slots> slots;  // (pp, v, m)

  int stages() const { return pp * v; }
  Slots& at(int rank, int chunk, int mb) { return slots[(static_cast<size_t>(rank) * v + chunk) * m + mb]; }
  const Slots& at(int rank, int chunk, int mb) const {
    return slots[(static_cast<size_t>(rank) * v + chunk) * m + mb];
  }
  const Slots& at_stage(int stage, int mb) const { return at(stage % pp, stage / pp, mb); }
};

// The stage a send/recv talks to, or -1 where that stage does not exist.
int peer_stage(const Grid& g, const Action& a) {
  const bool towards_next = a.kind == ActionKind::send_activation || a.kind == ActionKind::recv_grad;
  const int s = a.stage + (towards_next ? 1 : -1);
  return s >= 0 && s < g.stages() ? s : -1;
}

void check_fields(const Grid& g, int rank, const Action& a) {
  const std::string what = action_str(a);
  if (a.chunk < 0 || a.chunk >= g.v)
    fail("rank {}: {} has chunk {}, outside 0..{}", rank, what, a.chunk, g.v - 1);
  if (a.stage != a.chunk * g.pp + rank) {
    fail("rank {}: {} has stage {}, but chunk {} of rank {} is stage chunk * pp + rank = {}", rank, what,
         a.stage, a.chunk, rank, a.chunk * g.pp + rank);
  }
  if (a.kind == ActionKind::reduce_grads) return;
  if (a.microbatch < 0) fail("rank {}: {} has no microbatch", rank, what);
  if (!is_p2p(a.kind)) return;
  if (g.pp == 1) fail("rank 0: {}: with one pipeline rank there is nobody to send to or receive from", what);
  const int peer = peer_stage(g, a);
  if (peer < 0) {
    fail("rank {}: {}: stage {} is the {} stage, there is no stage {} to exchange this with", rank, what,
         a.stage, a.stage == 0 ? "first" : "last", a.stage == 0 ? -1 : g.stages());
  }
  if (a.peer != peer % g.pp)
    fail("rank {}: {}: the other end, stage {}, lives on rank {}, not {}", rank, what, peer, peer % g.pp,
         a.peer);
}

Grid index_lists(const std::vector<std::vector<Action>>& per_rank) {
  Grid g{per_rank, static_cast<int>(per_rank.size()), 0, 0, {}};
  if (g.pp == 0) fail("no pipeline ranks to simulate");
  for (const auto& list : per_rank) {
    for (const Action& a : list) {
      g.v = std::max(g.v, a.chunk + 1);
      if (a.kind != ActionKind::reduce_grads) g.m = std::max(g.m, a.microbatch + 1);
    }
  }
  if (g.v == 0 || g.m == 0) fail("the action lists hold no forward or backward");
  g.slots.assign(static_cast<size_t>(g.pp) * g.v * g.m, Slots{});
  for (int r = 0; r < g.pp; ++r) {
    for (int i = 0; i < static_cast<int>(per_rank[r].size()); ++i) {
      const Action& a = per_rank[r][i];
      if (a.kind == ActionKind::optimizer_step) continue;
      check_fields(g, r, a);
      if (a.kind == ActionKind::reduce_grads) continue;
      int& slot = g.at(r, a.chunk, a.microbatch).of(a.kind);
      if (slot >= 0) fail("rank {}: {} appears twice (actions #{} and #{})", r, action_str(a), slot, i);
      slot = i;
    }
  }
  return g;
}

// The recv `recv` must exist and come before the compute `use` that needs its data.
void require_recv(int rank, int recv, int use, const std::string& recv_name, const std::string& use_name) {
  if (recv < 0) fail("rank {}: {} has no {} before it", rank, use_name, recv_name);
  if (recv > use)
    fail("rank {}: {} (action #{}) comes after {} (#{}), which needs it", rank, recv_name, recv, use_name,
         use);
}

// The send `send` must exist and come after the compute `made` that produced its data.
void require_send(int rank, int made, int send, const std::string& made_name, const std::string& send_name) {
  if (send < 0) fail("rank {}: {} sends its result nowhere (no {})", rank, made_name, send_name);
  if (send < made)
    fail("rank {}: {} (action #{}) comes before {} (#{}), which makes its data", rank, send_name, send,
         made_name, made);
}

// Every (microbatch, chunk) runs forward and backward once, in that order, with its data received before and
// sent after; with one rank, the order of the chunks on it carries the data instead. Lists without any
// backward are a forward-only pass (evaluation): every (microbatch, chunk) runs forward once.
void check_dependencies(const Grid& g) {
  const int last = g.stages() - 1;
  bool forward_only = true;
  for (const auto& list : g.lists)
    for (const Action& a : list) forward_only = forward_only && a.kind != ActionKind::backward;
  for (int r = 0; r < g.pp; ++r) {
    for (int c = 0; c < g.v; ++c) {
      for (int mb = 0; mb < g.m; ++mb) {
        const Slots& sl = g.at(r, c, mb);
        const int s = c * g.pp + r;
        const auto name = [mb](const char* kind, int chunk) {
          return fmt::format("{}{}c{}", kind, mb, chunk);
        };
        const std::string f = name("F", c), b = name("B", c);
        if (sl.forward < 0 || (sl.backward < 0 && !forward_only)) {
          fail(
              "rank {}: microbatch {} chunk {} has no {} (every (microbatch, chunk) runs forward once and "
              "backward once)",
              r, mb, c, sl.forward < 0 ? "forward" : "backward");
        }
        if (sl.backward >= 0 && sl.backward < sl.forward)
          fail("rank {}: {} (action #{}) comes before {} (#{})", r, b, sl.backward, f, sl.forward);
        if (g.pp == 1) {
          if (s > 0) require_recv(r, g.at(r, c - 1, mb).forward, sl.forward, name("F", c - 1), f);
          if (s < last && !forward_only)
            require_recv(r, g.at(r, c + 1, mb).backward, sl.backward, name("B", c + 1), b);
          continue;
        }
        const std::string suffix = fmt::format(" mb{} c{}", mb, c);
        if (s > 0) require_recv(r, sl.recv_act, sl.forward, "recv_act" + suffix, f);
        if (s < last) require_send(r, sl.forward, sl.send_act, f, "send_act" + suffix);
        if (forward_only) continue;
        if (s < last) require_recv(r, sl.recv_grad, sl.backward, "recv_grad" + suffix, b);
        if (s > 0) require_send(r, sl.backward, sl.send_grad, b, "send_grad" + suffix);
      }
    }
  }
}

// Which rank blocks on what, walked from the first blocked rank until a rank repeats: that loop is the cycle.
std::string describe_deadlock(const Grid& g, const std::vector<size_t>& pc) {
  std::map<int, int> waits_on;  // blocked rank -> the rank whose send it waits for
  for (int r = 0; r < g.pp; ++r) {
    if (pc[r] < g.lists[r].size()) waits_on[r] = g.lists[r][pc[r]].peer;
  }
  const auto waits = [&](int r) {
    return fmt::format("rank {} waits for {}", r, action_str(g.lists[r][pc[r]]));
  };
  std::vector<int> path;
  int r = waits_on.begin()->first;
  while (std::find(path.begin(), path.end(), r) == path.end() && waits_on.count(r)) {
    path.push_back(r);
    r = waits_on[r];
  }
  std::vector<std::string> cycle, others;
  const auto start = std::find(path.begin(), path.end(), r);
  for (auto it = start; it != path.end(); ++it) cycle.push_back(waits(*it));
  for (const auto& [blocked, peer] : waits_on) {
    if (std::find(start, path.end(), blocked) == path.end()) others.push_back(waits(blocked));
  }
  std::string out = fmt::format("{}", fmt::join(cycle, "; "));
  if (!others.empty()) out += fmt::format(" (also blocked: {})", fmt::join(others, "; "));
  return out;
}

// "F3" / "B3": forward / backward of microbatch 3. Two chunks: chunk 1 in lower case (the light colour of
// Megatron's figure); more chunks are spelled out ("F3c2").
std::string block_label(const Action& a, int v) {
  const bool forward = a.kind == ActionKind::forward;
  char letter = forward ? 'F' : 'B';
  if (v == 2 && a.chunk == 1) letter = forward ? 'f' : 'b';
  const std::string label = fmt::format("{}{}", letter, a.microbatch);
  return v > 2 ? label + fmt::format("c{}", a.chunk) : label;
}

SimResult run(const Grid& g, const Costs& costs) {
  SimResult res;
  res.busy.assign(g.pp, 0.0);
  res.peak_in_flight.assign(g.pp, 0);
  std::vector<size_t> pc(g.pp, 0);
  std::vector<double> now(g.pp, 0.0);
  std::vector<int> in_flight(g.pp, 0);
  std::vector<std::vector<double>> issued(g.pp);  // per rank and action: when a send was issued; < 0: not yet
  for (int r = 0; r < g.pp; ++r) issued[r].assign(g.lists[r].size(), -1.0);

  // Runs rank r's next action if it can; false when it is blocked on a recv or done.
  const auto step = [&](int r) {
    if (pc[r] >= g.lists[r].size()) return false;
    const Action& a = g.lists[r][pc[r]];
    if (a.kind == ActionKind::recv_activation || a.kind == ActionKind::recv_grad) {
      const int from = peer_stage(g, a);
      const Slots& sender = g.at_stage(from, a.microbatch);
      const double at =
          issued[from % g.pp][a.kind == ActionKind::recv_activation ? sender.send_act : sender.send_grad];
      if (at < 0) return false;
      const double ready = std::max(now[r], at + costs.p2p);
      if (ready > now[r]) res.events.push_back({r, a, now[r], ready});
      now[r] = ready;
    } else if (is_compute(a.kind)) {
      const bool fwd = a.kind == ActionKind::forward;
      const double cost = fwd ? costs.forward : costs.backward;
      res.events.push_back({r, a, now[r], now[r] + cost});
      now[r] += cost;
      res.busy[r] += cost;
      in_flight[r] += fwd ? 1 : -1;
      res.peak_in_flight[r] = std::max(res.peak_in_flight[r], in_flight[r]);
    } else if (a.kind == ActionKind::send_activation || a.kind == ActionKind::send_grad) {
      issued[r][pc[r]] = now[r];
    }
    ++pc[r];
    return true;
  };

  for (bool progressed = true; progressed;) {
    progressed = false;
    for (int r = 0; r < g.pp; ++r) {
      while (step(r)) progressed = true;
    }
  }
  for (int r = 0; r < g.pp; ++r) res.deadlock |= pc[r] < g.lists[r].size();
  if (res.deadlock) res.deadlock_cycle = describe_deadlock(g, pc);
  res.makespan = *std::max_element(now.begin(), now.end());
  double total_busy = 0;
  for (double b : res.busy) total_busy += b;
  res.bubble = res.makespan > 0 ? 1.0 - total_busy / (g.pp * res.makespan) : 0.0;
  std::stable_sort(res.events.begin(), res.events.end(), [](const auto& x, const auto& y) {
    return x.start < y.start || (x.start == y.start && x.rank < y.rank);
  });
  return res;
}

bool shown(const SimResult::Event& e, int pp) {
  return is_compute(e.action.kind) && e.rank >= 0 && e.rank < pp;
}

// `width` characters per cell; each block starts with its label and continues with '-'.
std::vector<std::string> labelled_rows(const SimResult& result, int pp, int v, double cell, size_t width) {
  const auto column = [&](double t) { return static_cast<size_t>(std::llround(t / cell * width)); };
  std::vector<std::string> rows(pp, std::string(column(result.makespan), '.'));
  for (const auto& e : result.events) {
    if (!shown(e, pp)) continue;
    std::string& row = rows[e.rank];
    const size_t c0 = std::min(column(e.start), row.size());
    const size_t c1 = std::min(std::max(column(e.end), c0 + 1), row.size());
    if (c0 >= c1) continue;
    const std::string name = block_label(e.action, v);
    std::fill(row.begin() + c0, row.begin() + c1, '-');
    std::copy(name.begin(), name.begin() + std::min(name.size(), c1 - c0), row.begin() + c0);
  }
  return rows;
}

// One character per cell: the kind of compute that covers most of the cell, '.' where idle time does.
std::vector<std::string> shape_rows(const SimResult& result, int pp, int v, double cell) {
  const size_t columns = static_cast<size_t>(std::ceil(result.makespan / cell - 1e-9));
  std::vector<std::vector<std::map<char, double>>> cover(pp, std::vector<std::map<char, double>>(columns));
  for (const auto& e : result.events) {
    if (!shown(e, pp)) continue;
    const char letter = block_label(e.action, v)[0];
    for (auto c = static_cast<size_t>(e.start / cell); c < columns && c * cell < e.end; ++c)
      cover[e.rank][c][letter] += std::min(e.end, (c + 1) * cell) - std::max(e.start, c * cell);
  }
  std::vector<std::string> rows(pp, std::string(columns, '.'));
  for (int r = 0; r < pp; ++r) {
    for (size_t c = 0; c < columns; ++c) {
      double busy = 0, best = 0;
      for (const auto& [letter, t] : cover[r][c]) {
        busy += t;
        if (t > best) {
          best = t;
          rows[r][c] = letter;
        }
      }
      if (cell - busy > best) rows[r][c] = '.';
    }
  }
  return rows;
}

}  // namespace

SimResult simulate(const std::vector<std::vector<Action>>& per_rank, const Costs& costs) {
  if (!(costs.forward >= 0 && costs.backward >= 0 && costs.p2p >= 0)) {
    fail("simulation costs must be non-negative, got forward {} backward {} p2p {}", costs.forward,
         costs.backward, costs.p2p);
  }
  const Grid g = index_lists(per_rank);
  check_dependencies(g);
  return run(g, costs);
}

SimResult simulate(ScheduleKind kind, int pp, int virtual_stages, int microbatches, const Costs& costs) {
  if (const std::string problem = schedule_problem(kind, pp, virtual_stages, microbatches); !problem.empty())
    fail("{}", problem);
  std::vector<std::vector<Action>> lists;
  for (int r = 0; r < pp; ++r) lists.push_back(schedule_actions(kind, pp, virtual_stages, microbatches, r));
  return simulate(lists, costs);
}

std::string timeline(const SimResult& result, int pp, double unit) {
  if (!(unit > 0)) fail("timeline cell must be a positive time, got {}", unit);
  int v = 1;
  for (const auto& e : result.events) v = std::max(v, e.action.chunk + 1);
  size_t width = 1;  // characters per cell: the longest label fits one cell
  for (const auto& e : result.events) {
    if (is_compute(e.action.kind)) width = std::max(width, block_label(e.action, v).size());
  }
  // Labels while they fit in ~200 columns; past that one character per cell, the schedule's shape only.
  constexpr double kMaxColumns = 200;
  const bool labels = result.makespan / unit * width <= kMaxColumns + 1e-9;
  const double cell =
      labels ? unit : unit * std::max(1.0, std::ceil(result.makespan / unit / kMaxColumns - 1e-9));
  const std::vector<std::string> rows =
      labels ? labelled_rows(result, pp, v, cell, width) : shape_rows(result, pp, v, cell);
  const char* chunks = v == 1   ? ""
                       : v == 2 ? "; upper case: chunk 0, lower case: chunk 1"
                       : labels ? "; c<k>: on chunk k"
                                : " (chunks not shown)";
  std::string out = labels ? fmt::format(
                                 "one cell ({} chars) = {:g} time unit{}; F<mb> / B<mb>: forward / backward "
                                 "of microbatch mb{}; '-': block continues; '.': idle\n",
                                 width, cell, cell == 1 ? "" : "s", chunks)
                           : fmt::format(
                                 "one character = {:g} time unit{} (too long for labels), showing what fills "
                                 "most of it: F / B: forward / backward{}; '.': idle\n",
                                 cell, cell == 1 ? "" : "s", chunks);
  const int digits = static_cast<int>(fmt::format("{}", pp - 1).size());
  for (int r = 0; r < pp; ++r) out += fmt::format("rank {:>{}} |{}|\n", r, digits, rows[r]);
  return out;
}

}  // namespace trident::pp
