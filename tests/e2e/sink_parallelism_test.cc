// Sinks with several writers (`sink.parallelism`, issue 10 point 2): the rows reach the
// writers through a hash exchange on the primary key (or every column of an append sink),
// so each key's changes stay in order, and the result is the one a single writer gives.
// Crash recovery with several writers: ParallelSinkCrashTest in crash_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::run_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

std::string query(const std::string& db_path, const std::string& sql) { return testing::sqlite_query(db_path, sql); }

// Keys 0..49 and NULL; every key's rows are out of order in the file.
std::string input() {
  std::string in;
  for (int i = 0; i < 5000; ++i) {
    std::string k = i % 51 == 50 ? "null" : std::to_string((i * 7) % 50);
    in += "{\"k\": " + k + ", \"v\": " + std::to_string(i % 97) + ", \"ts\": " + std::to_string(1700000000000 + i * 100) +
          "}\n";
  }
  return in;
}

const char* kUpsertJob = R"(
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts');
CREATE TABLE totals (k BIGINT, n BIGINT, s BIGINT, hi BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/{OUT}', table = 'totals', primary_key = 'k',
        sink.parallelism = '{WRITERS}');
CREATE TABLE windows ()
  WITH (connector = 'sqlite', path = '{DIR}/{OUT}', table = 'windows', sink.parallelism = '{WRITERS}');
INSERT INTO totals SELECT k, COUNT(*) AS n, SUM(v) AS s, MAX(v) AS hi FROM src GROUP BY k;
INSERT INTO windows SELECT k, window_start, COUNT(*) AS n FROM TUMBLE(src, ts, INTERVAL '1' MINUTE)
  GROUP BY k, window_start;
)";

std::string job(const std::string& dir, const std::string& out, int writers) {
  std::string sql = with_dir(kUpsertJob, dir);
  auto put = [&](const std::string& what, const std::string& value) {
    for (size_t pos; (pos = sql.find(what)) != std::string::npos;) sql.replace(pos, what.size(), value);
  };
  put("{OUT}", out);
  put("{WRITERS}", std::to_string(writers));
  return sql;
}

TEST(SinkParallelismTest, SeveralWritersGiveTheResultOfOne) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), input());
  write_file(dir.file("one.sql"), job(dir.path(), "one.db", 1));
  auto one = run_sluice("run -q one.sql", dir.path());
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const std::string totals = "SELECT k, n, s, hi FROM totals ORDER BY k";
  const std::string windows = "SELECT k, window_start, n FROM windows ORDER BY k, window_start";
  std::string want_totals = query(dir.file("one.db"), totals);
  std::string want_windows = query(dir.file("one.db"), windows);
  ASSERT_EQ(std::count(want_totals.begin(), want_totals.end(), '\n'), 51) << want_totals;  // 50 keys and NULL
  ASSERT_GT(std::count(want_windows.begin(), want_windows.end(), '\n'), 400);
  for (int writers : {2, 4}) {
    for (const char* flags : {"-p 1", "-p 3 --batch-size 7"}) {
      std::string name = "w" + std::to_string(writers) + (flags[3] == '1' ? "p1" : "p3");
      write_file(dir.file(name + ".sql"), job(dir.path(), name + ".db", writers));
      auto r = run_sluice("run -q " + name + ".sql " + flags, dir.path());
      ASSERT_EQ(r.exit_code, 0) << r.output;
      EXPECT_EQ(query(dir.file(name + ".db"), totals), want_totals) << name;
      EXPECT_EQ(query(dir.file(name + ".db"), windows), want_windows) << name;
    }
  }
}

TEST(SinkParallelismTest, ExplainShowsTheWritersAndTheirExchange) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), input());
  write_file(dir.file("job.sql"), job(dir.path(), "out.db", 3));
  auto r = run_sluice("explain job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sink:totals (parallelism 3)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sink:windows (parallelism 3)"), std::string::npos) << r.output;
  // totals: on its primary key k ($0); windows (append): on every column.
  EXPECT_NE(r.output.find("hash exchange to stage"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" on [$0]\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" on [$0, $1, $2]\n"), std::string::npos) << r.output;
}

TEST(SinkParallelismTest, CheckpointedWritersCommitEachUnderItsOwnId) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), input());
  write_file(dir.file("job.sql"), job(dir.path(), "out.db", 3));
  auto r = run_sluice("run -q job.sql --checkpoint-dir ck --checkpoint-interval 20ms", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Two sinks of three writers each: six commit records.
  EXPECT_EQ(query(dir.file("out.db"), "SELECT COUNT(DISTINCT sink_id) FROM _sluice_commits"), "6\n");
  write_file(dir.file("one.sql"), job(dir.path(), "one.db", 1));
  ASSERT_EQ(run_sluice("run -q one.sql", dir.path()).exit_code, 0);
  EXPECT_EQ(query(dir.file("out.db"), "SELECT k, n, s, hi FROM totals ORDER BY k"),
            query(dir.file("one.db"), "SELECT k, n, s, hi FROM totals ORDER BY k"));
}

// The writers' transactions are resumed by instance: a checkpoint taken with 3 writers
// does not resume with 2 (a clear error, nothing written), and does with 3.
TEST(SinkParallelismTest, ACheckpointResumesOnlyWithItsWriterCount) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), input());
  std::string slow = job(dir.path(), "out.db", 3);
  slow.replace(slow.find("event_time = 'ts'"), 17, "event_time = 'ts', rate = '2000'");
  write_file(dir.file("job.sql"), slow);
  pid_t pid = testing::spawn_sluice({"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "50ms"},
                                    dir.path(), dir.file("log.txt"));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(testing::wait_for_pid_file(dir.file("ck/sluice.pid"), pid)) << testing::read_file(dir.file("log.txt"));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  ASSERT_EQ(testing::interrupt_and_wait(pid), 0) << testing::read_file(dir.file("log.txt"));
  std::string two = slow;
  for (size_t pos; (pos = two.find("sink.parallelism = '3'")) != std::string::npos;) two.replace(pos, 22, "sink.parallelism = '2'");
  write_file(dir.file("job.sql"), two);
  auto r = run_sluice("run -q job.sql --checkpoint-dir ck", dir.path());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resume with sink.parallelism = 3"), std::string::npos) << r.output;
  write_file(dir.file("job.sql"), job(dir.path(), "out.db", 3));
  r = run_sluice("run -q job.sql --checkpoint-dir ck", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  write_file(dir.file("one.sql"), job(dir.path(), "one.db", 1));
  ASSERT_EQ(run_sluice("run -q one.sql", dir.path()).exit_code, 0);
  EXPECT_EQ(query(dir.file("out.db"), "SELECT k, n, s, hi FROM totals ORDER BY k"),
            query(dir.file("one.db"), "SELECT k, n, s, hi FROM totals ORDER BY k"));
  EXPECT_EQ(query(dir.file("out.db"), "SELECT k, window_start, n FROM windows ORDER BY k, window_start"),
            query(dir.file("one.db"), "SELECT k, window_start, n FROM windows ORDER BY k, window_start"));
}

struct BadCase {
  const char* name;
  const char* table;
  const char* error;
};

class SinkParallelismErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SinkParallelismErrorTest, IsAPositionedPlanningError) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"k\": 1, \"v\": 2}\n");
  write_file(dir.file("job.sql"),
             with_dir(std::string("CREATE TABLE src (k BIGINT, v BIGINT) WITH (connector = 'file', path = "
                                  "'{DIR}/in.jsonl');\n") +
                          GetParam().table + "\nINSERT INTO out SELECT k, SUM(v) AS s FROM src GROUP BY k;\n",
                      dir.path()));
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(GetParam().error), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Options, SinkParallelismErrorTest,
    ::testing::Values(
        BadCase{"FileSink",
                "CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/o.jsonl', changelog = 'true', "
                "sink.parallelism = '2');",
                "job.sql:2:"},
        BadCase{"FileSinkSaysWhy",
                "CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/o.jsonl', changelog = 'true', "
                "sink.parallelism = '2');",
                "takes one writer; sink.parallelism must be 1"},
        BadCase{"Zero",
                "CREATE TABLE out () WITH (connector = 'sqlite', path = '{DIR}/o.db', primary_key = 'k', "
                "sink.parallelism = '0');",
                "option 'sink.parallelism' must be between 1 and 256, got 0"},
        BadCase{"NotANumber",
                "CREATE TABLE out () WITH (connector = 'sqlite', path = '{DIR}/o.db', primary_key = 'k', "
                "sink.parallelism = 'two');",
                "sink.parallelism"},
        BadCase{"MisspelledNamespace",
                "CREATE TABLE out () WITH (connector = 'sqlite', path = '{DIR}/o.db', primary_key = 'k', "
                "sinks.parallelism = '2');",
                "unknown option 'sinks.parallelism'"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sluice
