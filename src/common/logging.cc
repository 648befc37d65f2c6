#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <string>

namespace sluice {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kWarn};
}

void set_log_level(LogLevel level) { g_level.store(level); }
LogLevel log_level() { return g_level.load(std::memory_order_relaxed); }

void log_line(LogLevel level, std::string_view message) {
  static const char* kNames[] = {"debug", "info", "warning", "error", "off"};
  std::string line = fmt::format("sluice: {}: {}\n", kNames[static_cast<int>(level)], message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace sluice
