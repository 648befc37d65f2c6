// The `sluice` command as a user meets it: exit codes, one-line errors that name the
// problem and its place, explain/validate, and the example pipeline from the README.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "common/time_util.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::run_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

const char* kGoodJob = R"(CREATE TABLE src (k BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', format = 'json', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT k, COUNT(*) AS n, window_start FROM TUMBLE(src, ts, INTERVAL '1 minute')
GROUP BY k, window_start;
)";

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(CliTest, VersionPrintsTheVersion) {
  TempDir dir;
  auto r = run_sluice("--version", dir.path());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("sluice 0."), std::string::npos);
}

TEST(CliTest, MalformedSqlGivesOneLineWithLineAndColumn) {
  TempDir dir;
  write_file(dir.file("bad.sql"), "CREATE TABLE t (a BIGINT) WITH (connector = 'file', path = 'x');\nSELEC a FROM t;\n");
  auto r = run_sluice("run bad.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("bad.sql:2:1: syntax error"), std::string::npos) << r.output;
}

TEST(CliTest, UnknownColumnIsNamedWithItsPosition) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  std::string sql = with_dir(kGoodJob, dir.path());
  sql.replace(sql.find("SELECT k,"), 9, "SELECT kk,");
  write_file(dir.file("job.sql"), sql);
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("job.sql:4:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unknown column 'kk'"), std::string::npos) << r.output;
}

TEST(CliTest, MissingInputFileIsNamed) {
  TempDir dir;
  write_file(dir.file("job.sql"), with_dir(kGoodJob, dir.path()));
  auto r = run_sluice("run job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("in.jsonl"), std::string::npos) << r.output;
}

TEST(CliTest, MissingJobFileIsNamed) {
  TempDir dir;
  auto r = run_sluice("run nothere.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("nothere.sql"), std::string::npos) << r.output;
}

TEST(CliTest, WrongOptionIsNamed) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  std::string sql = with_dir(kGoodJob, dir.path());
  sql.replace(sql.find("format = 'json'"), 15, "formt = 'json'");
  write_file(dir.file("job.sql"), sql);
  auto r = run_sluice("run job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("formt"), std::string::npos) << r.output;
}

TEST(CliTest, BadOptionValueIsNamed) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  std::string sql = with_dir(kGoodJob, dir.path());
  sql.replace(sql.find("event_time = 'ts'"), 17, "event_time = 'ts', watermark_delay = '5 fortnights'");
  write_file(dir.file("job.sql"), sql);
  auto r = run_sluice("run job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("watermark_delay"), std::string::npos) << r.output;
}

TEST(CliTest, TypeMismatchIsReported) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  std::string sql = with_dir(kGoodJob, dir.path());
  sql.replace(sql.find("COUNT(*) AS n"), 13, "k + 'a' AS n");
  sql.replace(sql.find("GROUP BY k,"), 11, "GROUP BY k, n,");
  write_file(dir.file("job.sql"), sql);
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
}

TEST(CliTest, ExplainPrintsStagesAndExchange) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  write_file(dir.file("job.sql"), with_dir(kGoodJob, dir.path()));
  auto r = run_sluice("explain -p 4 job.sql", dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("window_aggregate"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hash exchange"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("parallelism 4"), std::string::npos) << r.output;
}

TEST(CliTest, ExplainPrintsSinkGuaranteesAndCheckpointSettings) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  write_file(dir.file("job.sql"), with_dir(kGoodJob, dir.path()));
  auto off = run_sluice("explain job.sql", dir.path());
  EXPECT_EQ(off.exit_code, 0) << off.output;
  EXPECT_NE(off.output.find("[exactly-once with checkpoints; without: at-least-once]"), std::string::npos)
      << off.output;
  EXPECT_NE(off.output.find("checkpoints: off"), std::string::npos) << off.output;
  auto on = run_sluice("explain job.sql --checkpoint-dir ck --checkpoint-interval 200ms --state-backend rocksdb",
                       dir.path());
  EXPECT_EQ(on.exit_code, 0) << on.output;
  EXPECT_NE(on.output.find("checkpoints: every 200ms in ck, rocksdb state backend"), std::string::npos) << on.output;
  EXPECT_NE(on.output.find("[exactly-once]"), std::string::npos) << on.output;
  // SET in the job file works too; the command line wins.
  write_file(dir.file("set.sql"), "SET checkpoint_interval = '5s';\nSET checkpoint_dir = 'ck2';\n" +
                                      with_dir(kGoodJob, dir.path()));
  auto set = run_sluice("explain set.sql", dir.path());
  EXPECT_NE(set.output.find("checkpoints: every 5s in ck2, memory state backend"), std::string::npos) << set.output;
  auto bad = run_sluice("run job.sql --checkpoint-interval 1s", dir.path());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("needs a checkpoint directory"), std::string::npos) << bad.output;
  auto bad_duration = run_sluice("run job.sql --checkpoint-dir ck --checkpoint-interval soon", dir.path());
  EXPECT_NE(bad_duration.exit_code, 0);
  EXPECT_NE(bad_duration.output.find("--checkpoint-interval"), std::string::npos) << bad_duration.output;
}

// A checkpointing run that is not interrupted writes the same rows as a plain run, in
// committed part files; a rerun on the finished checkpoint directory adds nothing.
TEST(CliTest, CheckpointedRunMatchesPlainRunAndRerunAddsNothing) {
  TempDir dir;
  std::string lines;
  for (int i = 0; i < 5000; ++i) {
    lines += "{\"k\": " + std::to_string(i % 37) + ", \"ts\": " + std::to_string(1700000000000 + i * 100) + "}\n";
  }
  write_file(dir.file("in.jsonl"), lines);
  write_file(dir.file("job.sql"), with_dir(kGoodJob, dir.path()));
  auto plain = run_sluice("run -q -p 2 job.sql", dir.path());
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  std::string expected = testing::read_file(dir.file("out.jsonl"));
  std::filesystem::remove(dir.file("out.jsonl"));
  for (int run = 0; run < 2; ++run) {
    auto r = run_sluice("run -q -p 2 job.sql --checkpoint-dir ck --checkpoint-interval 20ms", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::string parts;
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      std::string n = e.path().filename().string();
      if (n.rfind("out.part-", 0) == 0) names.push_back(e.path().string());
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) parts += testing::read_file(n);
    EXPECT_EQ(parts, expected) << "run " << run;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.jsonl")));
    // Retention: the default keeps the newest 3 checkpoints.
    int checkpoints = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.file("ck"))) {
      checkpoints += e.path().filename().string().rfind("chk-", 0) == 0;
    }
    EXPECT_GE(checkpoints, 1);
    EXPECT_LE(checkpoints, 3);
  }
}

TEST(CliTest, SavepointWithoutARunningJobFailsClearly) {
  TempDir dir;
  auto r = run_sluice("savepoint ck", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no job is running on ck"), std::string::npos) << r.output;
}

TEST(CliTest, RunWritesResultsAndDeadLettersBadLines) {
  TempDir dir;
  write_file(dir.file("in.jsonl"),
             "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n"
             "this is not json\n"
             "{\"k\": 1, \"ts\": \"2024-01-01T00:00:20Z\"}\n"
             "{\"k\": 2, \"ts\": \"2024-01-01T00:01:20Z\"}\n");
  write_file(dir.file("job.sql"), with_dir(kGoodJob, dir.path()));
  auto r = run_sluice("run job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string out = testing::read_file(dir.file("out.jsonl"));
  EXPECT_EQ(count_lines(out), 2) << out;
  EXPECT_NE(out.find("\"n\":2"), std::string::npos) << out;
  std::string dlq = testing::read_file(dir.file("src.dlq.jsonl"));
  EXPECT_EQ(count_lines(dlq), 1) << dlq;
  EXPECT_NE(dlq.find("this is not json"), std::string::npos);
  EXPECT_NE(dlq.find("\"line\":2"), std::string::npos) << dlq;
}

// The README's example: per-page clicks and unique users per minute into SQLite, checked
// against a brute-force count of the same input (watermark delay 5 s, /health excluded).
TEST(ExampleTest, ClicksPerPageProducesTheRightRowsInSqlite) {
  TempDir dir;
  std::string src = std::string(SLUICE_SOURCE_DIR) + "/examples/";
  std::filesystem::copy_file(src + "clicks.jsonl", dir.file("clicks.jsonl"));
  std::filesystem::copy_file(src + "clicks_per_page.sql", dir.file("clicks_per_page.sql"));
  auto r = run_sluice("run clicks_per_page.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // Brute force over the input.
  std::map<std::pair<Micros, std::string>, std::pair<int64_t, std::set<int64_t>>> want;
  std::istringstream in(testing::read_file(dir.file("clicks.jsonl")));
  std::string line;
  Micros max_ts = kMinWatermark;
  while (std::getline(in, line)) {
    auto uid_pos = line.find("\"user_id\": ");
    auto page_pos = line.find("\"page\": \"");
    auto ts_pos = line.find("\"ts\": \"");
    if (uid_pos == std::string::npos || page_pos == std::string::npos || ts_pos == std::string::npos) continue;
    if (!std::isdigit(static_cast<unsigned char>(line[uid_pos + 11]))) continue;  // malformed: dead-lettered
    int64_t uid = std::stoll(line.substr(uid_pos + 11));
    std::string page = line.substr(page_pos + 9, line.find('"', page_pos + 9) - page_pos - 9);
    Micros ts = parse_timestamp(line.substr(ts_pos + 7, line.find('"', ts_pos + 7) - ts_pos - 7)).value();
    Micros start = floor_div(ts, kMicrosPerMinute) * kMicrosPerMinute;
    bool late = max_ts != kMinWatermark && start + kMicrosPerMinute <= max_ts - 5 * kMicrosPerSecond;
    max_ts = std::max(max_ts, ts);
    if (late || page == "/health") continue;
    auto& w = want[{start, page}];
    w.first++;
    w.second.insert(uid);
  }
  ASSERT_GT(want.size(), 5u);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("out.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT window_start, page, clicks, users FROM per_page", -1, &st, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  size_t rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    ++rows;
    Micros ws = parse_timestamp(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))).value();
    std::string page = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    auto it = want.find({ws, page});
    ASSERT_NE(it, want.end()) << "unexpected row " << page;
    EXPECT_EQ(sqlite3_column_int64(st, 2), it->second.first) << page;
    EXPECT_EQ(sqlite3_column_int64(st, 3), static_cast<int64_t>(it->second.second.size())) << page;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_EQ(rows, want.size());
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(DeadLetterTest, NullEventTimeInCsvWithHeaderNamesTheRightLine) {
  testing::TempDir dir;
  testing::write_file(dir.file("in.csv"), "k,ts\n1,2024-01-01 00:00:00\n\n2,\n3,2024-01-01 00:00:02\n");
  testing::write_file(dir.file("job.sql"), testing::with_dir(R"(
    CREATE TABLE src (k BIGINT, ts TIMESTAMP)
      WITH (connector = 'file', path = '{DIR}/in.csv', format = 'csv', header = 'true', event_time = 'ts');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k FROM src;)", dir.path()));
  auto r = testing::run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string dlq = testing::read_file(dir.file("src.dlq.jsonl"));
  EXPECT_NE(dlq.find("\"line\":4"), std::string::npos) << dlq;
  EXPECT_NE(dlq.find("\"raw\":\"2,\""), std::string::npos) << dlq;
  EXPECT_NE(dlq.find("event time column 'ts' is NULL"), std::string::npos) << dlq;
  EXPECT_EQ(testing::read_file(dir.file("out.jsonl")), "{\"k\":1}\n{\"k\":3}\n");
}

}  // namespace
}  // namespace sluice

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace sluice {
namespace {

// `follow = 'true'` tails a growing file; SIGINT stops the job cleanly: exit code 0 and
// every row that reached the sink is in the output file.
TEST(FollowTest, TailsAGrowingFileAndStopsCleanlyOnSigint) {
  testing::TempDir dir;
  testing::write_file(dir.file("in.jsonl"), "{\"n\": 1}\n");
  testing::write_file(dir.file("job.sql"), testing::with_dir(R"(
    CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl', follow = 'true');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT n * 2 AS twice FROM src;)", dir.path()));
  pid_t pid = testing::spawn_sluice_run("job.sql", dir.path());
  ASSERT_GT(pid, 0);
  auto wait_for_lines = [&](int lines) {
    for (int i = 0; i < 600; ++i) {
      std::string out = testing::read_file(dir.file("out.jsonl"));
      if (std::count(out.begin(), out.end(), '\n') >= lines) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  // The job is running (it wrote the first row) before the file grows and before the
  // SIGINT: a job interrupted during start-up stops cleanly without output (slow under ASan).
  ASSERT_TRUE(wait_for_lines(1));
  {
    std::ofstream f(dir.file("in.jsonl"), std::ios::app);
    f << "{\"n\": 2}\n{\"n\": 3}\n" << std::flush;
    f << "{\"n\": 4";  // a partial line is held back until its newline arrives
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    std::ofstream f(dir.file("in.jsonl"), std::ios::app);
    f << "}\n" << std::flush;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0);
  ASSERT_TRUE(wait_for_lines(4));
  EXPECT_EQ(testing::read_file(dir.file("out.jsonl")), "{\"twice\":2}\n{\"twice\":4}\n{\"twice\":6}\n{\"twice\":8}\n");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// Two tailed files feed one window aggregation. `quiet` sends one row and then nothing:
// without an idle timeout its watermark would hold every window back forever; with
// idle_timeout it stops counting, and windows fire as `busy` advances.
TEST(IdleTimeoutTest, IdleSplitStopsHoldingBackTheWatermark) {
  testing::TempDir dir;
  testing::write_file(dir.file("quiet.jsonl"), "{\"k\": 1, \"ts\": \"2024-01-01T00:00:01Z\"}\n");
  testing::write_file(dir.file("busy.jsonl"), "");
  testing::write_file(dir.file("job.sql"), testing::with_dir(R"(
    CREATE TABLE quiet (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/quiet.jsonl', follow = 'true',
      event_time = 'ts', idle_timeout = '300ms');
    CREATE TABLE busy (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/busy.jsonl', follow = 'true',
      event_time = 'ts', idle_timeout = '300ms');
    CREATE VIEW both_files AS SELECT k, ts FROM quiet UNION ALL SELECT k, ts FROM busy;
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT window_start, COUNT(*) AS n
    FROM TUMBLE(both_files, ts, INTERVAL '1 minute')
    GROUP BY window_start;)", dir.path()));
  pid_t pid = testing::spawn_sluice_run("job.sql", dir.path());
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int minute = 0; minute < 4; ++minute) {
    std::ofstream f(dir.file("busy.jsonl"), std::ios::app);
    f << "{\"k\": 2, \"ts\": \"2024-01-01T00:0" << minute << ":30Z\"}\n" << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Up to 30 s: an ASan build of the job on a loaded 2-core machine took over 6 s to start
  // (the job stopped during start-up exits 0 without output).
  std::string out;
  for (int i = 0; i < 300 && std::count(out.begin(), out.end(), '\n') < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    out = testing::read_file(dir.file("out.jsonl"));
  }
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0);
  out = testing::read_file(dir.file("out.jsonl"));
  // Minutes 0..2 fired while `quiet` was idle (minute 3 is still open at the watermark).
  EXPECT_EQ(out,
            "{\"window_start\":\"2024-01-01T00:00:00Z\",\"n\":2}\n"
            "{\"window_start\":\"2024-01-01T00:01:00Z\",\"n\":1}\n"
            "{\"window_start\":\"2024-01-01T00:02:00Z\",\"n\":1}\n");
}

}  // namespace
}  // namespace sluice
