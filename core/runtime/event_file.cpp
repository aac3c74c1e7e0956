#include "core/runtime/event_file.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "core/runtime/error.h"
#include "core/runtime/tfevent.pb.h"

namespace trident {

namespace {

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The newest seconds field among the event files already in `dir` (0: none).
int64_t newest_file_seconds(const std::string& dir) {
  constexpr std::string_view prefix = "events.out.tfevents.";
  int64_t newest = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    newest = std::max<int64_t>(newest, std::strtoll(name.c_str() + prefix.size(), nullptr, 10));
  }
  return newest;
}

// TensorFlow's name, plus the pid. TensorBoard reads a run's files in name order: a resumed run's file must
// come after the files before it, even when it starts in the same second.
std::string event_file_path(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create TensorBoard directory '{}': {}", dir, ec.message());
  const int64_t seconds = std::max(static_cast<int64_t>(wall_time_now()), newest_file_seconds(dir) + 1);
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof(host), "localhost");
  return fmt::format("{}/events.out.tfevents.{}.{}.{}", dir, seconds, host, static_cast<int64_t>(getpid()));
}

std::string serialize(const tfevent::Event& event) {
  std::string bytes;
  if (!event.SerializeToString(&bytes)) fail("cannot serialize a TensorBoard event");
  return bytes;
}

}  // namespace

EventFileWriter::EventFileWriter(const std::string& dir) : file_(event_file_path(dir)) {
  tfevent::Event version;
  version.set_wall_time(wall_time_now());
  version.set_file_version("brain.Event:2");
  file_.write(serialize(version));
}

void EventFileWriter::add_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  tfevent::Event event;
  event.set_wall_time(wall_time_now());
  event.set_step(step);
  tfevent::Summary& summary = *event.mutable_summary();
  for (const auto& [tag, value] : scalars) {
    tfevent::Summary::Value& v = *summary.add_value();
    v.set_tag(tag);
    v.set_simple_value(value);
  }
  file_.write(serialize(event));
}

void EventFileWriter::add_session_start(int64_t step) {
  tfevent::Event event;
  event.set_wall_time(wall_time_now());
  event.set_step(step);
  event.mutable_session_log()->set_status(tfevent::SessionLog::START);
  file_.write(serialize(event));
}

}  // namespace trident
