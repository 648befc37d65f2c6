// Leveled logging to stderr through spdlog (one write per line, thread-safe).
//
// Two formats: text (default) `sluice: warning: MESSAGE`, and JSON lines
// (`--log-format json`): {"time":"2026-12-06T10:00:00.123Z","level":"warning","job":"clicks",
// "operator":"window:agg[1/2]","message":"..."}, for log shippers. The job is the calling
// thread's log context (ScopedLogJob; a job's task threads inherit their job's), else the
// process default (set_log_job; the CLI's one job), else absent. The operator is the task
// (operator chain and instance) whose thread logs (ScopedLogOperator; helper threads of a
// task, such as a sink's applier, take their creator's context with LogContext), else absent.
// Never pass secrets (passwords, tokens) to these functions.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace sluice {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };
enum class LogFormat { kText, kJson };

void set_log_level(LogLevel level);
LogLevel log_level();
void set_log_format(LogFormat format);
// The job named in JSON log lines of threads without their own context.
void set_log_job(std::string job);
// The calling thread's job ("" when none): what a new thread of the same job should take.
const std::string& log_job();
void log_line(LogLevel level, std::string_view message);

// Names the job of the calling thread's log lines for its lifetime.
class ScopedLogJob {
 public:
  explicit ScopedLogJob(std::string job);
  ~ScopedLogJob();
  ScopedLogJob(const ScopedLogJob&) = delete;
  ScopedLogJob& operator=(const ScopedLogJob&) = delete;

 private:
  std::string previous_;
};

// Names the operator (task) of the calling thread's log lines for its lifetime.
class ScopedLogOperator {
 public:
  explicit ScopedLogOperator(std::string op);
  ~ScopedLogOperator();
  ScopedLogOperator(const ScopedLogOperator&) = delete;
  ScopedLogOperator& operator=(const ScopedLogOperator&) = delete;

 private:
  std::string previous_;
};

// The calling thread's job and operator, captured to be installed on another thread
// (LogContext::Scope) that works for it.
struct LogContext {
  std::string job;
  std::string op;
  static LogContext current();
  class Scope {
   public:
    explicit Scope(const LogContext& c) : job_(c.job), op_(c.op) {}

   private:
    ScopedLogJob job_;
    ScopedLogOperator op_;
  };
};

// A JSON string literal of `text` (quotes included; control characters escaped, invalid
// UTF-8 bytes replaced by U+FFFD so the line stays valid JSON).
std::string json_quote(std::string_view text);

template <typename... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kDebug) log_line(LogLevel::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kInfo) log_line(LogLevel::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kWarn) log_line(LogLevel::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() <= LogLevel::kError) log_line(LogLevel::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace sluice
