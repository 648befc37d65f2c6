// `sluice top URL`: the live per-operator table of a job run by another `sluice run --http`
// process, read through the REST API; its refusals (unreachable server, missing token,
// unknown job) are one-line errors with a non-zero exit.
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <regex>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_helpers.h"

namespace sluice {
namespace {

using testing::read_file;
using testing::run_sluice;
using testing::spawn_sluice;
using testing::TempDir;
using testing::write_file;

// 2,000 events/s over 2 splits into one-second windows; 1% malformed (dead letters).
const char* kJob = R"(
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', rate = '2000', splits = '2', malformed = '0.01', event_time = 'ts');
CREATE TABLE views (window_start TIMESTAMP, views BIGINT) WITH (connector = 'blackhole');
INSERT INTO views SELECT window_start, COUNT(*) FROM TUMBLE(clicks, ts, INTERVAL '1 second') GROUP BY window_start;
)";

// A table row: the operator column, then the columns after it (PAR, RECORDS IN, RECORDS
// OUT, IN/s, OUT/s, BP%, then the watermark's words).
struct TableRow {
  std::string name;
  std::vector<std::string> fields;
};

// The table rows of `output` whose operator column starts with `prefix` (STAGE is 5
// characters wide, OPERATOR 44, one space after each).
std::vector<TableRow> rows_named(const std::string& output, const std::string& prefix) {
  std::vector<TableRow> rows;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 51 || !std::isdigit(static_cast<unsigned char>(line[0]))) continue;
    TableRow r;
    r.name = line.substr(6, 44);
    if (r.name.rfind(prefix, 0) != 0) continue;
    std::istringstream words(line.substr(51));
    for (std::string x; words >> x;) r.fields.push_back(x);
    rows.push_back(std::move(r));
  }
  return rows;
}

class TopCliTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra) {
    write_file(dir_.file("job.sql"), kJob);
    std::vector<std::string> args = {"run", "job.sql"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = spawn_sluice(args, dir_.path(), dir_.file("log.txt"));
    port_ = testing::serving_port(dir_.file("log.txt"));
    ASSERT_GT(port_, 0) << read_file(dir_.file("log.txt"));
  }
  void TearDown() override {
    if (pid_ > 0) testing::interrupt_and_wait(pid_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(TopCliTest, PrintsTheLiveOperatorTableOfARunningJob) {
  start({"--http", "127.0.0.1:0", "--checkpoint-dir", dir_.file("ckpt"), "--checkpoint-interval", "200ms"});
  auto r = run_sluice("top " + url() + " -n 3 --interval 400ms", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Three tables, each naming the job and its state.
  size_t tables = 0;
  for (size_t at = r.output.find("job job  running"); at != std::string::npos;
       at = r.output.find("job job  running", at + 1)) {
    ++tables;
  }
  EXPECT_EQ(tables, 3u) << r.output;
  EXPECT_NE(r.output.find("OPERATOR"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("RECORDS IN"), std::string::npos) << r.output;

  // The source, the window aggregate and the sink, each with counts that grow and a rate.
  auto sources = rows_named(r.output, "source clicks");
  ASSERT_EQ(sources.size(), 3u) << r.output;
  ASSERT_GE(sources[2].fields.size(), 7u) << r.output;
  EXPECT_EQ(sources[0].fields[0], "2") << "two splits, two reader tasks: " << r.output;
  EXPECT_EQ(sources[0].fields[1], "-") << "a source has no records in";
  const uint64_t read_first = std::stoull(sources[0].fields[2]), read_last = std::stoull(sources[2].fields[2]);
  EXPECT_GT(read_last, read_first) << r.output;
  const double rate = std::stod(sources[2].fields[4]);
  EXPECT_GT(rate, 500) << "about 2,000 records/s: " << r.output;
  EXPECT_LT(rate, 5000) << r.output;
  EXPECT_TRUE(std::regex_search(sources[2].fields[6], std::regex(R"(^\d{4}-\d\d-\d\d$)"))) << "a watermark: " << r.output;

  auto windows = rows_named(r.output, "window_aggregate");
  ASSERT_EQ(windows.size(), 3u) << r.output;
  ASSERT_GE(windows[2].fields.size(), 7u) << r.output;
  EXPECT_GT(std::stoull(windows[2].fields[1]), std::stoull(windows[0].fields[1])) << "records in grow: " << r.output;
  EXPECT_GT(std::stod(windows[2].fields[3]), 500) << "records in per second: " << r.output;
  auto sinks = rows_named(r.output, "sink");
  ASSERT_EQ(sinks.size(), 3u) << r.output;
  ASSERT_GE(sinks[2].fields.size(), 6u) << r.output;
  EXPECT_GT(std::stoull(sinks[2].fields[1]), 0u) << "fired windows reach the sink: " << r.output;

  // The summary lines: dead letters counted, checkpoints completing.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(source clicks: (\d+) records, \d+ bytes, (\d+) dead-lettered)"))) << r.output;
  EXPECT_GT(std::stoull(m[1]), 0u);
  EXPECT_GT(std::stoull(m[2]), 0u) << "1% malformed records";
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(checkpoints: [1-9]\d* completed, 0 failed; last \d+ completed)")))
      << r.output;

  // `status` is the same command; one job can be named.
  r = run_sluice("status " + url() + " --job job -n 1 --interval 100ms", dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("job job  running"), std::string::npos) << r.output;
}

TEST_F(TopCliTest, RefusesClearly) {
  start({"--http", "127.0.0.1:0"});
  auto r = run_sluice("top " + url() + " --job nope -n 1", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no job named 'nope'"), std::string::npos) << r.output;
  r = run_sluice("top http://127.0.0.1:" + std::to_string(testing::free_port()) + " -n 1", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("sluice: error: cannot reach http://127.0.0.1:"), std::string::npos) << r.output;
  r = run_sluice("top " + url() + " --interval soon", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--interval"), std::string::npos) << r.output;
}

TEST_F(TopCliTest, UsesTheServersToken) {
  write_file(dir_.file("token"), "top-test-token-0123456789\n");
  ASSERT_EQ(::chmod(dir_.file("token").c_str(), 0600), 0);
  start({"--http", "0.0.0.0:0", "--http-token-file", dir_.file("token")});
  auto r = run_sluice("top " + url() + " -n 1 --interval 100ms", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("401 unauthorized"), std::string::npos) << r.output;
  r = run_sluice("top " + url() + " -n 1 --interval 100ms --token-file " + dir_.file("token"), dir_.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("job job  running"), std::string::npos) << r.output;
}

TEST_F(TopCliTest, EndsWhenTheJobEnds) {
  start({"--http", "127.0.0.1:0"});
  const pid_t job = pid_;
  pid_ = -1;  // stopped below
  pid_t top = spawn_sluice({"top", url(), "--interval", "100ms"}, dir_.path(), dir_.file("top.txt"));
  // The job stops once `top` has shown it (a sanitizer build of top takes a while to start:
  // stopped before its first request, it finds nobody there, not a job that ended).
  for (int i = 0; i < 300 && read_file(dir_.file("top.txt")).find("running") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(testing::interrupt_and_wait(job), 0) << read_file(dir_.file("log.txt"));
  EXPECT_EQ(testing::wait_exit(top), 0) << read_file(dir_.file("top.txt"));
  const std::string out = read_file(dir_.file("top.txt"));
  EXPECT_NE(out.find("is gone (the job ended)"), std::string::npos) << out;
}

}  // namespace
}  // namespace sluice
