#include "train/comm_summary.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

namespace trident {

namespace {

// Ops and bytes this rank passed through `c` (splits create groups and move nothing; they are not counted).
std::pair<double, double> traffic(const comm::Communicator& c) {
  double calls = 0, bytes = 0;
  for (const auto& [op, total] : c.log().totals()) {
    if (op == "split") continue;
    calls += static_cast<double>(total.calls);
    bytes += static_cast<double>(total.bytes);
  }
  return {calls, bytes};
}

}  // namespace

CommSummary comm_summary(ParallelModel& model, comm::Communicator& world) {
  std::vector<std::pair<const char*, comm::Communicator*>> groups{
      {"tp", &model.tp()}, {"pp", &model.pp()}, {"dp", &model.dp()}};
  // Expert parallelism: the tokens' all-to-alls (ep) and the expert gradients' reduction (edp).
  if (model.ep()) groups.insert(groups.end(), {{"ep", model.ep()}, {"edp", model.edp()}});
  const int64_t kPerRank = 2 * static_cast<int64_t>(groups.size());  // (calls, bytes) per group
  Tensor mine = Tensor::empty({kPerRank}, DType::f64);
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto [calls, bytes] = traffic(*groups[g].second);
    mine.data<double>()[2 * g] = calls;
    mine.data<double>()[2 * g + 1] = bytes;
  }
  Tensor all = Tensor::empty({kPerRank * world.size()}, DType::f64);
  if (world.size() > 1) {
    world.all_gather(all, mine);
  } else {
    all.copy_from(mine);
  }

  CommSummary out;
  std::string line;
  for (size_t g = 0; g < groups.size(); ++g) {
    const int size = groups[g].second->size();
    std::vector<double> calls, bytes;
    double sum = 0, ops = 0;
    for (int r = 0; r < world.size(); ++r) {
      calls.push_back(all.item(r * kPerRank + 2 * g));
      bytes.push_back(all.item(r * kPerRank + 2 * g + 1));
      ops += calls.back();
      sum += bytes.back();
    }
    out.record[groups[g].first] = {{"size", size}, {"calls", calls}, {"bytes", bytes}};
    if (size > 1) {
      line += fmt::format("{}{} {} ranks, {:.2f} MB/rank in {:.0f} ops", line.empty() ? "" : " | ",
                          groups[g].first, size, sum / world.size() / 1e6, ops / world.size());
    }
  }
  out.record = {{"comm", out.record}};
  out.line = "communication: " + (line.empty() ? std::string("none (one rank)") : line);
  return out;
}

}  // namespace trident
