#include "core/comm/watchdog.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace trident::comm {

namespace {

// "trident: error: [rank 1] collective #5 all_reduce on group 'world' (f32 x 1024, sum) did not complete
// within 2.0 s"
std::string head(const CommLog& log, const OpRecord& op, double timeout_s) {
  std::string detail = op.count >= 0 ? fmt::format("{} x {}", dtype_name(op.dtype), op.count) : "";
  if (!op.extra.empty()) detail += (detail.empty() ? "" : ", ") + op.extra;
  if (!detail.empty()) detail = " (" + detail + ")";
  return fmt::format("trident: error: [rank {}] {} {} {} on group '{}'{} did not complete within {:.1f} s",
                     log.global_rank(), op.collective ? "collective" : "point-to-point", op.label(), op.op,
                     log.group(), detail, timeout_s);
}

std::string last_completed_here(const CommLog& log) {
  std::string last = "none";
  if (auto done = log.last_completed()) last = fmt::format("{} {}", done->label(), done->what());
  return fmt::format("Last collective completed here on '{}': {}.", log.group(), last);
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

Watchdog::Watchdog(double timeout_s, OnTimeout on_timeout, std::chrono::milliseconds poll, bool start_thread)
    : timeout_s_(timeout_s), on_timeout_(std::move(on_timeout)), poll_(poll) {
  if (start_thread) thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  stop();
}

void Watchdog::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::shared_ptr<RollCall> dropped;  // released outside the lock: MpiRollCall frees its communicator
  {
    std::lock_guard lock(mu_);
    dropped = std::move(roll_call_);
  }
}

void Watchdog::watch(const std::shared_ptr<const CommLog>& log) {
  const std::string group = fmt::format("{}|{}", log->group(), ranks_str(log->global_ranks()));
  std::lock_guard lock(mu_);
  logs_.push_back({log, fmt::format("{}|{}", group, instances_[group]++)});
}

void Watchdog::set_roll_call(std::shared_ptr<RollCall> roll_call, std::string unavailable) {
  std::lock_guard lock(mu_);
  roll_call_ = std::move(roll_call);
  roll_call_unavailable_ = std::move(unavailable);
}

std::vector<Watchdog::Live> Watchdog::live() {
  std::lock_guard lock(mu_);
  std::erase_if(logs_, [](const Watched& w) { return w.log.expired(); });
  std::vector<Live> logs;
  for (const auto& w : logs_) {
    if (auto l = w.log.lock()) logs.push_back({std::move(l), w.key});
  }
  return logs;
}

std::string Watchdog::key(const CommLog& log) {
  for (const auto& l : live()) {
    if (l.log.get() == &log) return l.key;
  }
  return "";
}

Progress Watchdog::progress(const std::string& key) {
  Progress p;
  std::optional<OpRecord> oldest;
  const CommLog* oldest_log = nullptr;
  for (const auto& l : live()) {
    if (l.key == key) {
      p.knows_group = true;
      p.last_started = l.log->collectives();
    }
    auto op = l.log->oldest_pending();
    if (op && (!oldest || op->start < oldest->start)) {
      oldest = op;
      oldest_log = l.log.get();
    }
  }
  p.waiting = oldest.has_value();
  if (oldest) {
    p.now = fmt::format("now waits in {} {} on '{}' (for {:.1f} s)", oldest->label(), oldest->what(),
                        oldest_log->group(), seconds(Clock::now() - oldest->start));
  } else {
    p.now = "is in no communication op now (it computes, or is blocked outside communication)";
  }
  return p;
}

std::optional<std::string> Watchdog::check(Clock::time_point now) {
  auto report = scan(now);
  if (!report) return std::nullopt;
  return report->message;
}

std::optional<Watchdog::Report> Watchdog::scan(Clock::time_point now) {
  const auto limit = std::chrono::duration<double>(timeout_s_);
  const Live* worst_log = nullptr;
  std::optional<OpRecord> worst;
  const std::vector<Live> logs = live();
  for (const auto& l : logs) {
    auto op = l.log->oldest_pending();
    if (op && now - op->start > limit && (!worst || op->start < worst->start)) {
      worst = op;
      worst_log = &l;
    }
  }
  if (!worst) return std::nullopt;
  std::shared_ptr<RollCall> roll_call;
  std::string unavailable;
  {
    std::lock_guard lock(mu_);
    roll_call = roll_call_;
    unavailable = roll_call_unavailable_;
  }
  const CommLog& log = *worst_log->log;
  if (!roll_call || !worst->collective) return Report{message(log, *worst, timeout_s_, unavailable)};
  std::vector<int> others;
  for (int r : log.global_ranks()) {
    if (r != log.global_rank()) others.push_back(r);
  }
  try {
    auto answers =
        roll_call->ask(worst_log->key, others, [this](const std::string& k) { return progress(k); });
    return Report{message(log, *worst, timeout_s_, answers, roll_call->grace_s()),
                  only_held_up_ranks_missing(worst->seq, answers)};
  } catch (const std::exception& e) {
    return Report{
        message(log, *worst, timeout_s_, fmt::format("asking the other ranks failed: {}", e.what()))};
  }
}

std::string Watchdog::message(const CommLog& log, const OpRecord& op, double timeout_s,
                              const std::string& unavailable) {
  std::string text = head(log, op, timeout_s);
  if (!op.collective) return text + "; the peer never posted the matching op (or is stuck before it).";
  text += fmt::format(
      "; ranks that did not reach it hold it up: some rank of '{}' (global ranks {}) is stuck elsewhere, has "
      "exited, or runs a different collective {}. {} Rerun with TRIDENT_COMM_VERIFY=1 to name the ranks "
      "whose collective sequences diverge.",
      log.group(), ranks_str(log.global_ranks()), op.label(), last_completed_here(log));
  if (!unavailable.empty()) text += fmt::format(" (The ranks are not named: {}.)", unavailable);
  return text;
}

std::string Watchdog::message(const CommLog& log, const OpRecord& op, double timeout_s,
                              const std::vector<RollAnswer>& answers, double grace_s) {
  return fmt::format("{}; {}. {}", head(log, op, timeout_s),
                     roll_call_report(log.group(), log.global_ranks(), op.seq, answers, grace_s),
                     last_completed_here(log));
}

void Watchdog::serve(const std::shared_ptr<RollCall>& roll_call) {
  if (!roll_call) return;
  try {
    roll_call->serve([this](const std::string& k) { return progress(k); });
  } catch (const std::exception& e) {
    // Not worth ending the job for: only the names in a later timeout message are lost.
    spdlog::error("watchdog: answering other ranks' roll calls failed, so it stops answering: {}", e.what());
    std::lock_guard lock(mu_);
    if (roll_call_ == roll_call) {
      roll_call_.reset();
      roll_call_unavailable_ = fmt::format("answering roll calls failed earlier: {}", e.what());
    }
  }
}

void Watchdog::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, poll_, [this] { return stop_; });
    if (stop_) break;
    std::shared_ptr<RollCall> roll_call = roll_call_;
    lock.unlock();
    serve(roll_call);
    auto report = scan(Clock::now());
    if (report) {
      if (report->held_up) {
        // The ranks it names wait in other ops themselves, and a rank that waits on the cause (one that
        // is stopped, or computes forever) names it: this report gives that one two grace periods (its own
        // roll call may wait one out) to end the job first, answering roll calls meanwhile.
        const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(2 * roll_call->grace_s()));
        lock.lock();
        while (!stop_ && Clock::now() < until) {
          stop_cv_.wait_for(lock, poll_, [this] { return stop_; });
          lock.unlock();
          serve(roll_call);
          lock.lock();
        }
        lock.unlock();
      }
      on_timeout_(report->message);
      return;  // reported once; on_timeout normally ends the process
    }
    lock.lock();
  }
}

}  // namespace trident::comm
