// Interval and window joins through `kill -9`: a checkpointing job (FULL interval join and
// LEFT window join of two throttled file sources into exactly-once file sinks) is killed at
// random moments and restarted, alternating parallelism 1 and 2 (the joins' state is
// restored and redistributed by key); when it completes, each sink's committed rows equal
// those of one uninterrupted run without checkpoints, as multisets (the order of a join's
// output rows depends on how its two inputs interleave).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

constexpr int kRecords = 40000;  // per side

const char* kJob = R"(
CREATE TABLE l (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/l.jsonl', event_time = 'ts', watermark_delay = '2s'{RATE});
CREATE TABLE r (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/r.jsonl', event_time = 'ts', watermark_delay = '2s'{RATE});
CREATE TABLE interval_out (lk BIGINT, lv BIGINT, rk BIGINT, rv BIGINT) WITH (connector = 'file', path = '{DIR}/{OUT}/interval.jsonl');
CREATE TABLE window_out (lk BIGINT, lv BIGINT, rv BIGINT, ws TIMESTAMP) WITH (connector = 'file', path = '{DIR}/{OUT}/window.jsonl');
INSERT INTO interval_out SELECT l.k, l.v, r.k, r.v FROM l FULL JOIN r
  ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '1' SECOND AND l.ts + INTERVAL '0.5' SECOND;
INSERT INTO window_out SELECT L.k, L.v, R.v, L.window_start
  FROM TUMBLE(l, ts, INTERVAL '5' SECOND) AS L LEFT JOIN TUMBLE(r, ts, INTERVAL '5' SECOND) AS R
  ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k;
)";

// Keys 0..499, one event every 2 ms of event time, up to 1 s out of order.
void write_input(const std::string& path, uint64_t seed) {
  testing::Rng rng{seed};
  std::ofstream out(path);
  const int64_t base = 1700000000000;  // ms
  for (int i = 0; i < kRecords; ++i) {
    const int64_t ts = base + i * 2 - rng.uniform(0, 1000);
    out << "{\"k\":" << rng.uniform(0, 499) << ",\"v\":" << rng.uniform(0, 1000) << ",\"ts\":" << ts << "}\n";
  }
}

std::string job_text(const std::string& dir, const std::string& out, bool throttled) {
  std::string sql = testing::with_dir(kJob, dir);
  auto put = [&](const std::string& what, const std::string& value) {
    for (size_t pos; (pos = sql.find(what)) != std::string::npos;) sql.replace(pos, what.size(), value);
  };
  put("{OUT}", out);
  put("{RATE}", throttled ? ", rate = '15000'" : "");
  return sql;
}

// The committed rows of file sink `name` in `dir` (its part files, or the single file of a
// run without checkpoints), sorted.
std::vector<std::string> rows_of(const std::string& dir, const std::string& name) {
  std::vector<std::string> rows;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string file = e.path().filename().string();
    const bool part = file.rfind(name + ".part-", 0) == 0 && file.size() > 6 && file.substr(file.size() - 6) == ".jsonl";
    if (!part && file != name + ".jsonl") continue;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) rows.push_back(line);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(TimeJoinCrashTest, KilledAndRescaledJoinsLoseAndRepeatNothing) {
  testing::TempDir dir;
  write_input(dir.file("l.jsonl"), 1);
  write_input(dir.file("r.jsonl"), 2);
  fs::create_directories(dir.file("ref"));
  fs::create_directories(dir.file("out"));
  testing::write_file(dir.file("ref.sql"), job_text(dir.path(), "ref", false));
  testing::write_file(dir.file("job.sql"), job_text(dir.path(), "out", true));
  auto ref = testing::run_sluice("run -q ref.sql", dir.path());
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const auto ref_interval = rows_of(dir.file("ref"), "interval");
  const auto ref_window = rows_of(dir.file("ref"), "window");
  ASSERT_GT(ref_interval.size(), 10000u);
  ASSERT_GT(ref_window.size(), 10000u);

  testing::Rng rng{7};
  const std::string log = dir.file("log.txt");
  int kills = 0;
  for (int run = 0;; ++run) {
    const std::string p = run % 2 == 0 ? "2" : "1";
    pid_t pid = testing::spawn_sluice({"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "50ms",
                                       "-p", p},
                                      dir.path(), log);
    ASSERT_GT(pid, 0);
    if (kills >= 6) {
      EXPECT_EQ(testing::wait_exit(pid), 0) << testing::read_file(log);
      break;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(rng.uniform(300, 700));
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::read_file(log);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (exited) break;
    kill(pid, SIGKILL);
    testing::wait_exit(pid);
    ++kills;
  }
  EXPECT_GE(kills, 3) << "the job finished before it could be killed often enough";
  EXPECT_EQ(rows_of(dir.file("out"), "interval"), ref_interval);
  EXPECT_EQ(rows_of(dir.file("out"), "window"), ref_window);
}

}  // namespace
}  // namespace sluice
