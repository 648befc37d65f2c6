#include "common/logging.h"

#include <atomic>
#include <memory>
#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kWarn};
std::atomic<LogFormat> g_format{LogFormat::kText};
std::mutex g_job_mu;
std::string g_job;  // guarded by g_job_mu
thread_local std::string t_job;
thread_local std::string t_operator;

const char* level_name(LogLevel level) {
  static const char* kNames[] = {"debug", "info", "warning", "error", "off"};
  return kNames[static_cast<int>(level)];
}

// One logger writing whole lines to stderr; the line is formatted here ("%v" only), so the
// text format stays `sluice: LEVEL: message` and JSON lines are complete objects.
spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = std::make_shared<spdlog::logger>("sluice", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *instance;
}

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

void set_log_level(LogLevel level) { g_level.store(level); }
LogLevel log_level() { return g_level.load(std::memory_order_relaxed); }
void set_log_format(LogFormat format) { g_format.store(format); }

void set_log_job(std::string job) {
  std::lock_guard<std::mutex> lock(g_job_mu);
  g_job = std::move(job);
}

const std::string& log_job() { return t_job; }

ScopedLogJob::ScopedLogJob(std::string job) : previous_(std::move(t_job)) { t_job = std::move(job); }
ScopedLogJob::~ScopedLogJob() { t_job = std::move(previous_); }

ScopedLogOperator::ScopedLogOperator(std::string op) : previous_(std::move(t_operator)) { t_operator = std::move(op); }
ScopedLogOperator::~ScopedLogOperator() { t_operator = std::move(previous_); }

LogContext LogContext::current() { return LogContext{log_job(), t_operator}; }

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else if (u >= 0x80) {
      size_t n = utf8_length(text, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    } else {
      out += c;
    }
    ++i;
  }
  out += '"';
  return out;
}

void log_line(LogLevel level, std::string_view message) {
  if (g_format.load(std::memory_order_relaxed) == LogFormat::kText) {
    logger().log(spdlog::level::info, "sluice: {}: {}", level_name(level), message);
    return;
  }
  std::string job = t_job;
  if (job.empty()) {
    std::lock_guard<std::mutex> lock(g_job_mu);
    job = g_job;
  }
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string line = fmt::format("{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"{}\"",
                                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                 static_cast<int>(ms % 1000), level_name(level));
  if (!job.empty()) line += ",\"job\":" + json_quote(job);
  if (!t_operator.empty()) line += ",\"operator\":" + json_quote(t_operator);
  line += ",\"message\":" + json_quote(message) + "}";
  logger().log(spdlog::level::info, "{}", line);
}

}  // namespace sluice
