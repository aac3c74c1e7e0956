#pragma once
// metrics.jsonl: one JSON object per line, appended and flushed as training goes, so a crashed run keeps
// everything logged before the crash. Each row can also go to TensorBoard (core/runtime/tensorboard.h).
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/runtime/tensorboard.h"

namespace trident {

class MetricsWriter {
 public:
  MetricsWriter() = default;
  // append: continue an existing file (a resumed run keeps the rows before its checkpoint).
  explicit MetricsWriter(const std::string& path, bool append = false);
  bool enabled() const { return out_.is_open(); }
  // From now on every record also goes to a TensorBoard event file in `dir` (created when missing).
  void add_tensorboard(const std::string& dir);
  void write(const nlohmann::json& record);
  // A run resumed after `step` redoes the steps after it: the rows an earlier run wrote after it (the last
  // row at `step` or before ends what is kept: later rows, summaries included, are dropped) and TensorBoard's
  // events after it (a session restart) are forgotten. Returns the number of rows dropped.
  int64_t resume_after(int64_t step);

 private:
  std::string path_;
  std::ofstream out_;
  std::unique_ptr<TensorBoardSink> tensorboard_;
};

}  // namespace trident
