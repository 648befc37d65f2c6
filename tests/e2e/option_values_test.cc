// Option values that parse but mean nothing are refused by `sluice validate` and `sluice
// run` with one positioned line (file:line:col of the option) and a non-zero exit, instead
// of being accepted silently.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace sluice {
namespace {

using testing::run_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A job whose source table carries `options` (appended to its WITH list).
std::string job_with_source_options(const std::string& options) {
  return "CREATE TABLE src (k BIGINT, ts TIMESTAMP)\n"
         "  WITH (connector = 'file', path = '{DIR}/in.jsonl',\n"
         "        " + options + ");\n"
         "CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');\n"
         "INSERT INTO out SELECT k, ts FROM src;\n";
}

struct Refusal {
  std::string options;   // appended to the source's WITH list (line 3, column 9)
  std::string message;   // expected part of the error
  std::string where = "job.sql:3:";  // the option's line (connector options: the table's)
};

class MeaninglessSourceOptionTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(MeaninglessSourceOptionTest, IsRefusedWithAPositionedOneLineError) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n");
  write_file(dir.file("job.sql"), with_dir(job_with_source_options(GetParam().options), dir.path()));
  for (const char* cmd : {"validate job.sql", "run job.sql"}) {
    auto r = run_sluice(cmd, dir.path());
    EXPECT_NE(r.exit_code, 0) << cmd << ": " << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << cmd << ": " << r.output;
    EXPECT_EQ(r.output.find("sluice: error: " + GetParam().where), 0u) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find(GetParam().message), std::string::npos) << cmd << ": " << r.output;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.jsonl")));
}

INSTANTIATE_TEST_SUITE_P(
    Options, MeaninglessSourceOptionTest,
    ::testing::Values(
        Refusal{"event_time = 'ts', allowed_lateness = '-1s'", "option 'allowed_lateness' must not be negative"},
        Refusal{"event_time = 'ts', watermark_delay = '-5s'", "option 'watermark_delay' must not be negative"},
        Refusal{"watermark_delay = '5s'", "option 'watermark_delay' needs option 'event_time'"},
        Refusal{"allowed_lateness = '1m'", "option 'allowed_lateness' needs option 'event_time'"},
        Refusal{"idle_timeout = '10s'", "option 'idle_timeout' needs option 'event_time'"},
        Refusal{"event_time = 'ts', idle_timeout = '0s'", "option 'idle_timeout' must be positive"},
        Refusal{"event_time = 'ts', late_output = ''", "option 'late_output' must not be empty"},
        Refusal{"late_output = 'late.jsonl'", "option 'late_output' needs option 'event_time'"},
        Refusal{"dlq = ''", "option 'dlq' must not be empty"},
        Refusal{"dlq_table = 'bad'", "option 'dlq_table' needs option 'dlq'"},
        Refusal{"event_time = ''", "table src: event_time column '' is not a column", "job.sql:1:14: "},
        Refusal{"rate = '-5'", "table src: option 'rate' must be >= 0", "job.sql:1:14: "}));

TEST(CheckpointIntervalTest, BelowTheMinimumIsRefusedOnTheCommandLine) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n");
  write_file(dir.file("job.sql"), with_dir(job_with_source_options("format = 'json'"), dir.path()));
  auto r = run_sluice("run job.sql --checkpoint-dir ck --checkpoint-interval 1us", dir.path());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("--checkpoint-interval: '1us' is shorter than the minimum 10ms"), std::string::npos)
      << r.output;
  // The minimum itself and 0 (final checkpoint only) are fine.
  EXPECT_EQ(run_sluice("validate job.sql --checkpoint-dir ck --checkpoint-interval 10ms", dir.path()).exit_code, 0);
  EXPECT_EQ(run_sluice("validate job.sql --checkpoint-dir ck --checkpoint-interval 0", dir.path()).exit_code, 0);
}

TEST(CheckpointIntervalTest, BelowTheMinimumIsRefusedInSet) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n");
  write_file(dir.file("job.sql"), "SET checkpoint_dir = 'ck';\nSET checkpoint_interval = '5ms';\n" +
                                      with_dir(job_with_source_options("format = 'json'"), dir.path()));
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_EQ(r.output.find("sluice: error: job.sql:"), 0u) << r.output;
  EXPECT_NE(r.output.find(": SET checkpoint_interval: '5ms' is shorter than the minimum 10ms"), std::string::npos)
      << r.output;
}

TEST(ConnectorOptionErrorsTest, NameTheTablePosition) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  write_file(dir.file("job.sql"), with_dir(job_with_source_options("format = 'xml'"), dir.path()));
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("job.sql:1:14: table src: option 'format' must be 'json' or 'csv'"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace sluice
