#pragma once
// CommTrace: when each of the ZeRO path's collectives of one step was issued and when it was seen complete
// (at the next unit boundary that polls it, or when it was waited for), on the steady clock. Written beside
// the pipeline's compute into the step's Chrome trace, on a track of its own, so that stage 3's prefetch can
// be seen overlapping the units that compute meanwhile.
#include <chrono>
#include <string>
#include <vector>

namespace trident::zero {

struct CommEvent {
  std::string op;                       // "all_gather", "reduce_scatter"; or a unit's "forward", "backward"
  int first_unit = -1, last_unit = -1;  // the units it moves (one at stage 3) or computes
  double start_s = 0, end_s = -1;       // steady-clock seconds; end -1 while in flight
};

class CommTrace {
 public:
  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  // Returns the event's index, for done().
  size_t issued(std::string op, int first_unit, int last_unit) {
    events_.push_back({std::move(op), first_unit, last_unit, now(), -1});
    return events_.size() - 1;
  }
  void done(size_t index) {
    if (index < events_.size() && events_[index].end_s < 0) events_[index].end_s = now();
  }
  void clear() { events_.clear(); }
  const std::vector<CommEvent>& events() const { return events_; }

 private:
  std::vector<CommEvent> events_;
};

}  // namespace trident::zero
