#include "core/comm/roll_call.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace trident::comm {

namespace {

// Reasons past this many ranks that answered are summed up, so a job of thousands of ranks gets a readable
// line.
constexpr size_t kMaxReasons = 16;

bool entered(uint64_t seq, const RollAnswer& a) {
  return a.progress && a.progress->knows_group && a.progress->last_started >= seq;
}

std::string host_of(const RollAnswer& a) {
  return a.host.empty() ? "?" : a.host;
}

// Why a rank that answered never entered it, in its own words.
std::string why(const std::string& group, const RollAnswer& a) {
  const std::string who = fmt::format("rank {} (host {})", a.global_rank, host_of(a));
  const Progress& p = *a.progress;
  if (!p.knows_group)
    return fmt::format("{} has no communicator for '{}' (not built yet, or already freed) and {}", who, group,
                       p.now);
  if (p.last_started == 0)
    return fmt::format("{} started no collective on '{}' yet and {}", who, group, p.now);
  return fmt::format("{} last started #{} on '{}' and {}", who, p.last_started, group, p.now);
}

// "ranks 1,3 (host node-b), rank 8 (host node-c) did not answer ...", grouped by host: a node that went
// down reads as one entry.
std::string silent(const std::vector<const RollAnswer*>& ranks, double grace_s) {
  std::map<std::string, std::vector<int>> by_host;
  for (const RollAnswer* a : ranks) by_host[host_of(*a)].push_back(a->global_rank);
  std::vector<std::string> who;
  for (const auto& [host, r] : by_host)
    who.push_back(fmt::format("{} {} (host {})", r.size() == 1 ? "rank" : "ranks", ranks_str(r), host));
  return fmt::format(
      "{} did not answer within {:.1f} s: stopped, frozen or gone (a live rank's watchdog thread answers "
      "even "
      "while the rank computes or waits elsewhere)",
      fmt::join(who, ", "), grace_s);
}

}  // namespace

std::vector<int> never_entered(uint64_t seq, const std::vector<RollAnswer>& answers) {
  std::vector<int> ranks;
  for (const auto& a : answers) {
    if (!entered(seq, a)) ranks.push_back(a.global_rank);
  }
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

bool only_held_up_ranks_missing(uint64_t seq, const std::vector<RollAnswer>& answers) {
  bool any = false;
  for (const auto& a : answers) {
    if (entered(seq, a)) continue;
    if (!a.progress || !a.progress->waiting) return false;
    any = true;
  }
  return any;
}

std::string roll_call_report(const std::string& group, const std::vector<int>& group_ranks, uint64_t seq,
                             const std::vector<RollAnswer>& answers, double grace_s) {
  const std::vector<int> missing = never_entered(seq, answers);
  if (missing.empty()) {
    return fmt::format(
        "ranks that never entered it: none. Every rank of '{}' (global ranks {}) answered that it started "
        "#{}, so the collective itself is stuck: ranks pass different sizes or types, one is stuck inside "
        "it, or the network failed (TRIDENT_COMM_VERIFY=1 names ranks that run a different collective)",
        group, ranks_str(group_ranks), seq);
  }
  std::vector<const RollAnswer*> answered, no_answer;
  for (const auto& a : answers) {
    if (!entered(seq, a)) (a.progress ? answered : no_answer).push_back(&a);
  }
  std::sort(answered.begin(), answered.end(),
            [](const RollAnswer* x, const RollAnswer* y) { return x->global_rank < y->global_rank; });
  std::vector<std::string> reasons;
  if (!no_answer.empty()) reasons.push_back(silent(no_answer, grace_s));
  for (size_t i = 0; i < answered.size() && i < kMaxReasons; ++i) reasons.push_back(why(group, *answered[i]));
  if (answered.size() > kMaxReasons) {
    reasons.push_back(fmt::format("{} more ranks answered that they have not started #{}",
                                  answered.size() - kMaxReasons, seq));
  }
  return fmt::format("ranks that never entered it: {}. {}", fmt::join(missing, ", "),
                     fmt::join(reasons, "; "));
}

}  // namespace trident::comm
