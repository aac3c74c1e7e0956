#pragma once
// metrics.jsonl: one JSON object per line, appended and flushed as training goes, so a crashed run keeps
// everything logged before the crash.
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace trident {

class MetricsWriter {
 public:
  MetricsWriter() = default;
  // append: continue an existing file (a resumed run keeps the rows before its checkpoint).
  explicit MetricsWriter(const std::string& path, bool append = false);
  bool enabled() const { return out_.is_open(); }
  void write(const nlohmann::json& record);

 private:
  std::ofstream out_;
};

}  // namespace trident
