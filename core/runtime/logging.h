#pragma once
// Process-wide logging through spdlog: one console logger, "[trident] message" lines, level from the
// TRIDENT_LOG_LEVEL environment variable (trace, debug, info, warn, error; default info).
#include <spdlog/spdlog.h>

namespace trident {

void init_logging();

}  // namespace trident
