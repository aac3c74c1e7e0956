#include "core/comm/comm_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/runtime/error.h"

namespace trident::comm {

std::string OpRecord::label() const {
  return collective ? fmt::format("#{}", seq) : fmt::format("p2p #{}", seq);
}

std::string OpRecord::what() const {
  std::string s = op;
  if (count >= 0) s += fmt::format(" {} x {}", dtype_name(dtype), count);
  if (!extra.empty()) s += fmt::format(" ({})", extra);
  return s;
}

std::string ranks_str(const std::vector<int>& ranks) {
  bool contiguous = ranks.size() > 2;
  for (size_t i = 1; i < ranks.size() && contiguous; ++i) contiguous = ranks[i] == ranks[i - 1] + 1;
  if (contiguous) return fmt::format("{}..{}", ranks.front(), ranks.back());
  return fmt::format("{}", fmt::join(ranks, ","));
}

CommLog::CommLog(std::string group, int global_rank, std::vector<int> global_ranks, bool log_info)
    : group_(std::move(group)),
      global_rank_(global_rank),
      global_ranks_(std::move(global_ranks)),
      log_info_(log_info) {}

uint64_t CommLog::begin(bool collective, std::string op, DType dtype, int64_t count, std::string extra) {
  OpRecord r;
  r.collective = collective;
  r.op = std::move(op);
  r.dtype = dtype;
  r.count = count;
  r.extra = std::move(extra);
  r.start = Clock::now();
  uint64_t ticket;
  {
    std::lock_guard lock(mu_);
    r.seq = collective ? next_seq_++ : next_p2p_seq_++;
    ticket = next_ticket_++;
    OpTotals& total = totals_[r.op];
    const int64_t elements = std::max<int64_t>(count, 0);
    total.calls += 1;
    total.elements += elements;
    total.bytes += elements * static_cast<int64_t>(dtype_size(dtype));
    pending_.emplace(ticket, r);
  }
  auto level = log_info_ ? spdlog::level::info : spdlog::level::debug;
  if (spdlog::should_log(level)) {
    spdlog::log(level, "[rank {}] {} {} {}", global_rank_, group_, r.label(), r.what());
  }
  return ticket;
}

void CommLog::end(uint64_t ticket) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(ticket);
  if (it == pending_.end()) return;
  it->second.done = true;
  if (it->second.collective && (!last_completed_ || last_completed_->seq < it->second.seq)) {
    last_completed_ = it->second;
  }
  pending_.erase(it);
}

const OpRecord& CommLog::record(uint64_t ticket) const {
  std::lock_guard lock(mu_);
  auto it = pending_.find(ticket);
  TRIDENT_CHECK(it != pending_.end(), "no pending op with ticket {}", ticket);
  return it->second;
}

std::optional<OpRecord> CommLog::oldest_pending() const {
  std::lock_guard lock(mu_);
  if (pending_.empty()) return std::nullopt;
  return pending_.begin()->second;
}

std::optional<OpRecord> CommLog::last_completed() const {
  std::lock_guard lock(mu_);
  return last_completed_;
}

uint64_t CommLog::collectives() const {
  std::lock_guard lock(mu_);
  return next_seq_ - 1;
}

std::map<std::string, OpTotals> CommLog::totals() const {
  std::lock_guard lock(mu_);
  return totals_;
}

void CommLog::reset_totals() const {
  std::lock_guard lock(mu_);
  totals_.clear();
}

}  // namespace trident::comm
