#pragma once
// Watchdog: a background thread that, every poll interval, looks at the oldest unfinished op of every watched
// communicator. One older than the timeout is reported once, by name ("[rank 1] collective #5 all_reduce on
// group 'world' (f32 x 1024) did not complete within 2.0 s ..."), and on_timeout ends the job, so a missing
// or mismatched collective never hangs silently.
//
// With a roll call (roll_call.h; under MPI, MpiRollCall) the report also names the ranks of the group that
// never entered the collective: the thread asks them, and answers their questions at every poll. Ranks know
// a group by its key, "<name>|<global ranks>|<instance>", where the instance counts the communicators of
// that name and members watched before it; every member builds a group's communicators in the same order,
// so the key is the same on all of them.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/comm/comm_log.h"
#include "core/comm/roll_call.h"

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

  // Asks the other ranks on a timeout (null: none). `unavailable`: why there is none, for the messages.
  void set_roll_call(std::shared_ptr<RollCall> roll_call, std::string unavailable = {});
  // Joins the thread and drops the roll call; the Runtime calls it before MPI_Finalize, since communicators
  // (which hold the watchdog) may outlive it. The destructor calls it too.
  void stop();

  // One scan at `now`: the message for the oldest op past the timeout, if any. With a roll call, this asks
  // the group's other ranks first (up to its grace period).
  std::optional<std::string> check(Clock::time_point now);

  // What this rank tells a roll call about the group with `key` (see above), and what it does now.
  Progress progress(const std::string& key);
  // The key of a watched log ("" if it is not watched).
  std::string key(const CommLog& log);

  // The message without a roll call: names the group, not the ranks. `unavailable`: why no roll call.
  static std::string message(const CommLog& log, const OpRecord& op, double timeout_s,
                             const std::string& unavailable = {});
  // The message with a roll call's answers from the group's other ranks.
  static std::string message(const CommLog& log, const OpRecord& op, double timeout_s,
                             const std::vector<RollAnswer>& answers, double grace_s);

 private:
  struct Watched {
    std::weak_ptr<const CommLog> log;
    std::string key;
  };
  struct Live {
    std::shared_ptr<const CommLog> log;
    std::string key;
  };
  struct Report {
    std::string message;
    bool held_up = false;  // every rank it names waits in another op (only_held_up_ranks_missing)
  };
  std::vector<Live> live();
  std::optional<Report> scan(Clock::time_point now);
  void serve(const std::shared_ptr<RollCall>& roll_call);  // answers roll calls; drops a failing one
  void run();

  double timeout_s_;
  OnTimeout on_timeout_;
  std::chrono::milliseconds poll_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::vector<Watched> logs_;
  std::map<std::string, int> instances_;  // communicators watched so far, by "<name>|<global ranks>"
  std::shared_ptr<RollCall> roll_call_;
  std::string roll_call_unavailable_;
  std::thread thread_;
};

}  // namespace trident::comm
