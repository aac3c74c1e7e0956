#pragma once
// Watchdog: a background thread that, every poll interval, looks at the oldest unfinished op of every watched
// communicator. One older than the timeout is reported once, by name ("[rank 1] collective #5 all_reduce on
// group 'world' (f32 x 1024) did not complete within 2.0 s ..."), and on_timeout ends the job, so a missing
// or mismatched collective never hangs silently.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/comm/comm_log.h"

namespace trident::comm {

class Watchdog {
 public:
  // Gets the full message ("trident: error: ..."); expected not to return (MPI_Abort, std::_Exit).
  using OnTimeout = std::function<void(const std::string& message)>;

  // start_thread = false: no thread; tests drive check() themselves.
  Watchdog(double timeout_s, OnTimeout on_timeout,
           std::chrono::milliseconds poll = std::chrono::milliseconds(100), bool start_thread = true);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Held weakly: a log whose communicator is gone drops out.
  void watch(const std::shared_ptr<const CommLog>& log);
  double timeout_s() const { return timeout_s_; }

  // One scan at `now`: the message for the oldest op past the timeout, if any.
  std::optional<std::string> check(Clock::time_point now);

  static std::string message(const CommLog& log, const OpRecord& op, double timeout_s);

 private:
  void run();

  double timeout_s_;
  OnTimeout on_timeout_;
  std::chrono::milliseconds poll_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::vector<std::weak_ptr<const CommLog>> logs_;
  std::thread thread_;
};

}  // namespace trident::comm
