// A dead-letter queue and a late-data output that are sink tables are exactly-once through
// kill -9, like any sink of a checkpointing job: a job whose input has bad and late
// records is killed with SIGKILL at random moments (some while a checkpoint is being
// written) and restarted from its checkpoint directory each time. When it completes, the
// dead-letter table (SQLite) holds every bad record once and the late-data table (file
// sink) every late record once, as an uninterrupted run wrote them, and so does the
// windowed result. (The harness follows crash_test.cc.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::Rng;
using testing::spawn_sluice;
using testing::TempDir;
using testing::wait_exit;
using testing::with_dir;
using testing::write_file;

constexpr int kRecords = 120000;
constexpr int kRate = 30000;  // records per second in crash runs: the job lasts ~4 s

const char* kJob = R"(
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', format = 'json', event_time = 'ts',
        watermark_delay = '3s', dlq = 'bad_rows', late_output = 'late_rows'{RATE});
CREATE TABLE bad_rows () WITH (connector = 'sqlite', path = '{DIR}/{OUT}/side.db', table = 'bad');
CREATE TABLE late_rows () WITH (connector = 'file', path = '{DIR}/{OUT}/late.jsonl');
CREATE TABLE agg_db () WITH (connector = 'sqlite', path = '{DIR}/{OUT}/agg.db', table = 'agg');
INSERT INTO agg_db
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
)";

// Keys 0..99, one event every 2 ms of event time, up to 2 s out of order; every 7th line
// does not decode (three kinds of error), every 13th event is a minute behind (late).
void write_input(const std::string& path) {
  Rng rng{11};
  std::ofstream out(path);
  const int64_t base = 1700000000000;  // ms
  for (int i = 0; i < kRecords; ++i) {
    if (i % 7 == 3) {
      switch (rng.uniform(0, 2)) {
        case 0: out << "{\"k\": " << i << ", \"ts\": oops\n"; break;
        case 1: out << "{\"k\": \"text " << i << "\", \"v\": 1, \"ts\": " << base << "}\n"; break;
        default: out << "{\"k\": 1, \"v\": 1, \"ts\": null, \"i\": " << i << "}\n"; break;
      }
      continue;
    }
    int64_t ts = base + i * 2 - rng.uniform(0, 2000);
    if (i % 13 == 5 && i > 1000) ts -= 60000;
    out << "{\"k\":" << rng.uniform(0, 99) << ",\"v\":" << rng.uniform(-1000, 1000) << ",\"ts\":" << ts << "}\n";
  }
}

std::string job_text(const std::string& dir, const std::string& out, bool throttled) {
  std::string sql = with_dir(kJob, dir);
  auto put = [&](const std::string& what, const std::string& value) {
    for (size_t pos; (pos = sql.find(what)) != std::string::npos;) sql.replace(pos, what.size(), value);
  };
  put("{OUT}", out);
  put("{RATE}", throttled ? std::string(", rate = '") + std::to_string(kRate) + "'" : std::string());
  return sql;
}

// The dead-letter rows without their time (when they were written differs between runs).
std::vector<std::string> dead_letters(const std::string& dir) {
  return testing::sqlite_query_rows(dir + "/side.db",
                     "SELECT source, split, \"offset\", line, error, raw FROM bad ORDER BY \"offset\", error");
}

std::vector<std::string> aggregates(const std::string& dir) {
  return testing::sqlite_query_rows(dir + "/agg.db", "SELECT k, window_start, n, total FROM agg ORDER BY k, window_start");
}

// A late row without its time.
std::string fmt_row(const json& j) {
  return json{{"source", j["source"]}, {"split", j["split"]}, {"offset", j["offset"]}, {"line", j["line"]},
              {"queries", j["queries"]}, {"error", j["error"]}, {"raw", j["raw"]}}
      .dump();
}

// The committed late rows (the file sink's part files, or the single file of a run without
// checkpoints), without their time, sorted by offset.
std::vector<std::string> late_rows(const std::string& dir) {
  std::string all;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name == "late.jsonl" || name.rfind("late.part-", 0) == 0) all += testing::read_file(e.path().string());
  }
  std::vector<std::string> rows;
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line);
    rows.push_back(fmt_row(j));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

bool has_checkpoint_in_progress(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(".tmp-chk-", 0) == 0) return true;
  }
  return false;
}

TEST(SideOutputCrashTest, DeadLetterAndLateTablesHoldEveryRecordOnceThroughKill9) {
  TempDir dir;
  write_input(dir.file("in.jsonl"));
  // The reference: one uninterrupted run without checkpoints.
  fs::create_directories(dir.file("ref"));
  write_file(dir.file("ref.sql"), job_text(dir.path(), "ref", false));
  auto r = testing::run_sluice("run -q ref.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ref_bad = dead_letters(dir.file("ref"));
  const auto ref_late = late_rows(dir.file("ref"));
  const auto ref_agg = aggregates(dir.file("ref"));
  ASSERT_EQ(ref_bad.size(), static_cast<size_t>((kRecords + 3) / 7));
  ASSERT_GT(ref_late.size(), 5000u);
  ASSERT_GT(ref_agg.size(), 1000u);

  fs::create_directories(dir.file("out"));
  write_file(dir.file("job.sql"), job_text(dir.path(), "out", true));
  const std::string log = dir.file("log.txt");
  Rng rng{5};
  int kills = 0, during_checkpoint = 0;
  constexpr int kKills = 12;
  for (int run = 0;; ++run) {
    pid_t pid = spawn_sluice({"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "50ms", "-p",
                              run % 2 ? "1" : "2"},
                             dir.path(), log);
    ASSERT_GT(pid, 0);
    if (kills >= kKills) {
      EXPECT_EQ(wait_exit(pid), 0) << testing::read_file(log);
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    const bool at_checkpoint = kills % 3 == 2;
    const auto delay = std::chrono::milliseconds(rng.uniform(80, 260));
    bool exited = false;
    while (true) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::read_file(log);
        break;
      }
      const auto elapsed = std::chrono::steady_clock::now() - start;
      if (at_checkpoint ? (elapsed > delay && has_checkpoint_in_progress(dir.file("ck"))) ||
                              elapsed > std::chrono::seconds(5)
                        : elapsed > delay) {
        if (at_checkpoint && has_checkpoint_in_progress(dir.file("ck"))) ++during_checkpoint;
        kill(pid, SIGKILL);  // pid > 0: the job this test spawned
        wait_exit(pid);
        ++kills;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(at_checkpoint ? 200 : 1000));
    }
    if (exited) break;
  }
  EXPECT_GE(kills, kKills / 2) << "the job finished before it could be killed often";
  const auto bad = dead_letters(dir.file("out"));
  EXPECT_EQ(bad.size(), ref_bad.size()) << "dead letters lost or repeated";
  EXPECT_TRUE(bad == ref_bad) << "the dead-letter table differs from the uninterrupted run's";
  const auto late = late_rows(dir.file("out"));
  EXPECT_EQ(late.size(), ref_late.size()) << "late rows lost or repeated";
  EXPECT_TRUE(late == ref_late) << "the late-data table differs from the uninterrupted run's";
  EXPECT_TRUE(aggregates(dir.file("out")) == ref_agg);
  std::cerr << "kills: " << kills << ", during a checkpoint: " << during_checkpoint << "\n";
}

}  // namespace
}  // namespace sluice
