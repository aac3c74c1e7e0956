#pragma once
// metrics.jsonl rows as TensorBoard scalars (RUN_DIR/tb/): every number in a row becomes a scalar whose tag
// is its JSON key, at the row's "step". Nested values are flattened with '/': {"pp_wait_s": [0.1, 0.2]} gives
// pp_wait_s/0 and pp_wait_s/1, {"moe_load": [{"min_max": 0.5}]} gives moe_load/0/min_max. Whatever keys a row
// has are forwarded, so a metric added to the rows shows up in TensorBoard with no change here.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/runtime/event_file.h"

namespace trident {

// The (tag, value) pairs of a row, in the order metrics.jsonl writes them, without "step": numbers, and
// booleans as 0 or 1; strings and nulls are not scalars and are left out.
std::vector<std::pair<std::string, double>> scalar_tags(const nlohmann::json& row);

class TensorBoardSink {
 public:
  explicit TensorBoardSink(const std::string& dir) : events_(dir) {}
  // One Event per row. A row without "step" (the end-of-run summaries) goes at the last step written.
  void write(const nlohmann::json& row);
  // A resumed run continues after `step`: TensorBoard forgets what earlier files hold after it.
  void resume_after(int64_t step);
  const std::string& path() const { return events_.path(); }

 private:
  EventFileWriter events_;
  int64_t last_step_ = 0;
};

}  // namespace trident
