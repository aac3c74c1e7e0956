#include "core/comm/watchdog.h"

#include <fmt/format.h>

namespace trident::comm {

Watchdog::Watchdog(double timeout_s, OnTimeout on_timeout, std::chrono::milliseconds poll, bool start_thread)
    : timeout_s_(timeout_s), on_timeout_(std::move(on_timeout)), poll_(poll) {
  if (start_thread) thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::watch(const std::shared_ptr<const CommLog>& log) {
  std::lock_guard lock(mu_);
  logs_.push_back(log);
}

std::optional<std::string> Watchdog::check(Clock::time_point now) {
  std::vector<std::shared_ptr<const CommLog>> logs;
  {
    std::lock_guard lock(mu_);
    std::erase_if(logs_, [](const auto& w) { return w.expired(); });
    for (const auto& w : logs_) {
      if (auto l = w.lock()) logs.push_back(std::move(l));
    }
  }
  const auto limit = std::chrono::duration<double>(timeout_s_);
  const CommLog* worst_log = nullptr;
  std::optional<OpRecord> worst;
  for (const auto& log : logs) {
    auto op = log->oldest_pending();
    if (op && now - op->start > limit && (!worst || op->start < worst->start)) {
      worst = op;
      worst_log = log.get();
    }
  }
  if (!worst) return std::nullopt;
  return message(*worst_log, *worst, timeout_s_);
}

std::string Watchdog::message(const CommLog& log, const OpRecord& op, double timeout_s) {
  std::string detail = op.count >= 0 ? fmt::format("{} x {}", dtype_name(op.dtype), op.count) : "";
  if (!op.extra.empty()) detail += (detail.empty() ? "" : ", ") + op.extra;
  if (!detail.empty()) detail = " (" + detail + ")";
  std::string head =
      fmt::format("trident: error: [rank {}] {} {} {} on group '{}'{} did not complete within {:.1f} s",
                  log.global_rank(), op.collective ? "collective" : "point-to-point", op.label(), op.op,
                  log.group(), detail, timeout_s);
  if (!op.collective) return head + "; the peer never posted the matching op (or is stuck before it).";
  std::string last = "none";
  if (auto done = log.last_completed()) last = fmt::format("{} {}", done->label(), done->what());
  return head +
         fmt::format(
             "; ranks that did not reach it hold it up: some rank of '{}' (global ranks {}) is stuck "
             "elsewhere, has exited, or runs a different collective {}. Last collective completed here "
             "on '{}': {}. Rerun with TRIDENT_COMM_VERIFY=1 to name the ranks whose collective sequences "
             "diverge.",
             log.group(), ranks_str(log.global_ranks()), op.label(), log.group(), last);
}

void Watchdog::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, poll_, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    auto msg = check(Clock::now());
    if (msg) {
      on_timeout_(*msg);
      return;  // reported once; on_timeout normally ends the process
    }
    lock.lock();
  }
}

}  // namespace trident::comm
