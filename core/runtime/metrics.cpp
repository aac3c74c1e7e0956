#include "core/runtime/metrics.h"

#include <filesystem>
#include <vector>

#include "core/runtime/error.h"

namespace trident {

MetricsWriter::MetricsWriter(const std::string& path, bool append)
    : path_(path), out_(path, std::ios::out | (append ? std::ios::app : std::ios::trunc)) {
  if (!out_) fail("cannot write metrics file '{}'", path);
}

void MetricsWriter::add_tensorboard(const std::string& dir) {
  tensorboard_ = std::make_unique<TensorBoardSink>(dir);
}

void MetricsWriter::write(const nlohmann::json& record) {
  if (!enabled()) return;
  out_ << record.dump() << '\n';
  out_.flush();
  if (tensorboard_) tensorboard_->write(record);
}

int64_t MetricsWriter::resume_after(int64_t step) {
  if (!enabled()) return 0;
  out_.close();
  std::vector<std::string> rows;
  size_t keep = 0;  // rows up to the last one at `step` or before
  {
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      rows.push_back(line);
      const nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (row.is_object() && row.contains("step") && row["step"].is_number_integer() &&
          row["step"].get<int64_t>() <= step)
        keep = rows.size();
    }
  }
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (size_t i = 0; i < keep; ++i) out << rows[i] << '\n';
    if (!out.flush()) fail("cannot write metrics file '{}'", tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  if (ec) fail("cannot replace metrics file '{}': {}", path_, ec.message());
  out_.open(path_, std::ios::out | std::ios::app);
  if (!out_) fail("cannot write metrics file '{}'", path_);
  if (tensorboard_) tensorboard_->resume_after(step);
  return static_cast<int64_t>(rows.size() - keep);
}

}  // namespace trident
