#include "common/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/scoped_temp_dir.h"

namespace sluice {
namespace {

// Runs `body` with stderr redirected to a file; returns what it wrote.
template <typename Body>
std::string capture_stderr(Body body) {
  ScopedTempDir dir("sluice_log");
  const std::string path = dir.file("stderr");
  std::fflush(stderr);
  int saved = ::dup(2);
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ::dup2(fd, 2);
  ::close(fd);
  body();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LoggingTest : public ::testing::Test {
 protected:
  void TearDown() override {
    set_log_format(LogFormat::kText);
    set_log_level(LogLevel::kWarn);
    set_log_job("");
  }
};

TEST_F(LoggingTest, TextLinesAreUnchanged) {
  std::string out = capture_stderr([] {
    log_warn("table {}: something odd", "clicks");
    log_info("not shown at the default level");
  });
  EXPECT_EQ(out, "sluice: warning: table clicks: something odd\n");
}

TEST_F(LoggingTest, JsonLinesAreObjectsWithTimeLevelJobAndMessage) {
  set_log_format(LogFormat::kJson);
  set_log_level(LogLevel::kInfo);
  set_log_job("default-job");
  std::string out = capture_stderr([] {
    log_info("quote \" backslash \\ newline \n tab \t bell \x07 invalid \xff utf8 \xc3\xa9");
    {
      ScopedLogJob scoped("clicks");
      log_warn("from a job thread");
    }
    std::thread([] { log_error("another thread"); }).join();
  });
  std::istringstream lines(out);
  std::vector<nlohmann::json> parsed;
  for (std::string line; std::getline(lines, line);) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 3u) << out;
  EXPECT_EQ(parsed[0]["level"], "info");
  EXPECT_EQ(parsed[0]["job"], "default-job");
  EXPECT_EQ(parsed[0]["message"], "quote \" backslash \\ newline \n tab \t bell \x07 invalid \xef\xbf\xbd utf8 \xc3\xa9");
  EXPECT_EQ(parsed[0]["time"].get<std::string>().size(), 24u);  // 2026-12-06T10:00:00.123Z
  EXPECT_EQ(parsed[1]["job"], "clicks");
  EXPECT_EQ(parsed[1]["level"], "warning");
  EXPECT_EQ(parsed[2]["job"], "default-job") << "a thread without its own context takes the process default";
  EXPECT_EQ(parsed[2]["level"], "error");
}

TEST_F(LoggingTest, JsonLinesNameTheOperatorOfTheThreadAndOfThreadsWorkingForIt) {
  set_log_format(LogFormat::kJson);
  std::string out = capture_stderr([] {
    ScopedLogJob job("clicks");
    {
      ScopedLogOperator op("window:agg[2/2]");
      log_warn("in the task");
      const LogContext context = LogContext::current();
      std::thread([context] {
        LogContext::Scope scope(context);
        log_warn("in the task's helper thread");
      }).join();
    }
    log_warn("outside any task");
  });
  std::istringstream lines(out);
  std::vector<nlohmann::json> parsed;
  for (std::string line; std::getline(lines, line);) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 3u) << out;
  EXPECT_EQ(parsed[0]["operator"], "window:agg[2/2]");
  EXPECT_EQ(parsed[1]["operator"], "window:agg[2/2]");
  EXPECT_EQ(parsed[1]["job"], "clicks");
  EXPECT_FALSE(parsed[2].contains("operator"));
}

TEST_F(LoggingTest, ScopedContextsNest) {
  EXPECT_EQ(log_job(), "");
  {
    ScopedLogJob a("a");
    EXPECT_EQ(log_job(), "a");
    {
      ScopedLogJob b("b");
      EXPECT_EQ(log_job(), "b");
    }
    EXPECT_EQ(log_job(), "a");
  }
  EXPECT_EQ(log_job(), "");
}

}  // namespace
}  // namespace sluice
