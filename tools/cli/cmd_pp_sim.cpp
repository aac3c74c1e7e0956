// trident pp-sim: run a pipeline schedule's action lists on the simulator: timeline, bubble (simulated vs the
// analytic formula), activation memory per rank, deadlock freedom. Nothing is launched.
#include <fmt/format.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/runtime/error.h"
#include "pipeline/chrome_trace.h"
#include "pipeline/schedule.h"
#include "pipeline/simulator.h"
#include "tools/cli/commands.h"

namespace trident::cli {
namespace {

struct PpSimArgs {
  int pp = 0;
  int microbatches = 0;
  std::string schedule;
  int virtual_stages = 1;
  pp::Costs costs;
  std::string trace = "pp_sim.json";
};

// The ideal bubble with zero p2p latency: pp - 1 stage-times of fill and drain per rank, over v * m
// chunk-times of work (v = 1 without interleaving).
double analytic_bubble(pp::ScheduleKind kind, int pp, int v, int m, std::string* formula) {
  if (kind == pp::ScheduleKind::interleaved_1f1b) {
    *formula = "(pp-1)/(v*m+pp-1)";
    return static_cast<double>(pp - 1) / (v * m + pp - 1);
  }
  *formula = "(pp-1)/(m+pp-1)";
  return static_cast<double>(pp - 1) / (m + pp - 1);
}

void write_trace(const std::string& path, const pp::SimResult& sim, int pp) {
  constexpr double kUsPerUnit = 1000;  // one cost unit shows as 1 ms
  std::vector<pp::TraceEvent> events;
  for (const auto& e : sim.events) {
    const bool compute =
        e.action.kind == pp::ActionKind::forward || e.action.kind == pp::ActionKind::backward;
    const char* category = e.action.kind == pp::ActionKind::forward    ? "forward"
                           : e.action.kind == pp::ActionKind::backward ? "backward"
                                                                       : "wait";
    events.push_back({compute ? pp::action_str(e.action) : "wait " + pp::action_str(e.action), category, 0,
                      e.rank, e.start * kUsPerUnit, (e.end - e.start) * kUsPerUnit});
  }
  std::map<int, std::string> names;
  for (int r = 0; r < pp; ++r) names[r] = fmt::format("rank {}", r);
  pp::write_chrome_trace(path, events, names);
}

void print_table(const PpSimArgs& args, pp::ScheduleKind kind, const pp::SimResult& sim) {
  std::string formula;
  const double analytic = analytic_bubble(kind, args.pp, args.virtual_stages, args.microbatches, &formula);
  fmt::print("{:<16} {}\n", "schedule", pp::schedule_name(kind));
  fmt::print("{:<16} {}\n", "pp", args.pp);
  fmt::print("{:<16} {}\n", "virtual stages", args.virtual_stages);
  fmt::print("{:<16} {}\n", "microbatches", args.microbatches);
  fmt::print("{:<16} forward {:g}, backward {:g}, p2p {:g}\n", "costs", args.costs.forward,
             args.costs.backward, args.costs.p2p);
  fmt::print("{:<16} {:g}\n", "makespan", sim.makespan);
  fmt::print("{:<16} {:.6f} simulated, {:.6f} analytic {}{}\n", "bubble", sim.bubble, analytic, formula,
             args.costs.p2p > 0 ? " (the formula ignores p2p latency)" : "");
  std::string peaks;
  for (size_t r = 0; r < sim.peak_in_flight.size(); ++r)
    peaks += fmt::format("{}rank {}: {}", r ? ", " : "", r, sim.peak_in_flight[r]);
  fmt::print("{:<16} {} ((microbatch, chunk) activations held at once)\n", "peak in flight", peaks);
  fmt::print("{:<16} {}\n", "deadlock-free", sim.deadlock ? "no: " + sim.deadlock_cycle : "yes");
}

void run_pp_sim(const PpSimArgs& args) {
  const pp::ScheduleKind kind = pp::parse_schedule(args.schedule);
  if (const std::string problem = pp::schedule_problem(kind, args.pp, args.virtual_stages, args.microbatches);
      !problem.empty())
    fail("{}", problem);
  const pp::SimResult sim = pp::simulate(kind, args.pp, args.virtual_stages, args.microbatches, args.costs);
  fmt::print("{}\n", pp::timeline(sim, args.pp));
  print_table(args, kind, sim);
  if (!args.trace.empty()) {
    write_trace(args.trace, sim, args.pp);
    fmt::print("\nChrome trace written to {} (open it in ui.perfetto.dev; 1 cost unit = 1 ms)\n", args.trace);
  }
  if (sim.deadlock) fail("schedule {} deadlocks: {}", pp::schedule_name(kind), sim.deadlock_cycle);
}

}  // namespace

void register_pp_sim(CLI::App& app) {
  auto args = std::make_shared<PpSimArgs>();
  CLI::App* cmd = app.add_subcommand(
      "pp-sim", "Simulate a pipeline schedule: timeline, bubble, activations in flight, deadlock freedom");
  cmd->footer(
      "Every rank's action list (the same lists the pipeline executor runs) is played on a model clock:\n"
      "forward and backward take their cost, sends never block, a recv waits for its send plus the p2p "
      "cost.\n"
      "Examples:\n"
      "  trident pp-sim --pp 4 --microbatches 8 --schedule 1f1b\n"
      "  trident pp-sim --pp 4 --microbatches 8 --schedule gpipe\n"
      "  trident pp-sim --pp 4 --microbatches 8 --schedule interleaved_1f1b --virtual 2 --trace pp_sim.json\n"
      "  trident pp-sim --pp 8 --microbatches 16 --schedule 1f1b --forward-cost 1 --backward-cost 2 "
      "--p2p-cost 0.1\n");
  cmd->add_option("--pp", args->pp, "Pipeline-parallel size (ranks in the pipeline)")->required();
  cmd->add_option("--microbatches,-m", args->microbatches, "Microbatches per optimizer step")->required();
  cmd->add_option("--schedule", args->schedule, "gpipe, 1f1b or interleaved_1f1b")->required();
  cmd->add_option("--virtual", args->virtual_stages,
                  "Model chunks per rank (virtual pipeline stages; interleaved_1f1b only)")
      ->capture_default_str();
  cmd->add_option("--forward-cost", args->costs.forward, "Time of one forward of one chunk")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--backward-cost", args->costs.backward, "Time of one backward of one chunk")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--p2p-cost", args->costs.p2p, "Latency from a send to its recv being available")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option(
         "--trace", args->trace,
         "Chrome trace (JSON) of the simulated run, for ui.perfetto.dev; empty (--trace '') writes none")
      ->capture_default_str();
  cmd->callback([args] { run_pp_sim(*args); });
}

}  // namespace trident::cli
