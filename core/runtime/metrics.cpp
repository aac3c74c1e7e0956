#include "core/runtime/metrics.h"

#include "core/runtime/error.h"

namespace trident {

MetricsWriter::MetricsWriter(const std::string& path, bool append)
    : out_(path, std::ios::out | (append ? std::ios::app : std::ios::trunc)) {
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

}  // namespace trident
