#include "core/runtime/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

namespace trident {

void init_logging() {
  static bool done = false;
  if (done) return;
  done = true;
  auto logger = spdlog::stdout_color_mt("trident");
  logger->set_pattern("[%H:%M:%S] %^%v%$");
  const char* level = std::getenv("TRIDENT_LOG_LEVEL");
  logger->set_level(level ? spdlog::level::from_str(level) : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace trident
