#include "core/runtime/event_file.h"

#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <filesystem>

#include "core/runtime/error.h"
#include "core/runtime/tfevent.pb.h"

namespace trident {

namespace {

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// TensorFlow's name, plus the pid: two writers started in the same second (a run and its resume) get two
// files.
std::string event_file_path(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create TensorBoard directory '{}': {}", dir, ec.message());
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof(host), "localhost");
  return fmt::format("{}/events.out.tfevents.{}.{}.{}", dir, static_cast<int64_t>(wall_time_now()), host,
                     static_cast<int64_t>(getpid()));
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

}  // namespace trident
