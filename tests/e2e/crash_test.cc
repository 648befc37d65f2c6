// Fault tolerance as a user meets it: a windowed job over a file source writing to
// exactly-once sinks (file parts and SQLite) is killed with SIGKILL at random moments —
// some of them while a checkpoint is being written — and restarted each time from its
// checkpoint directory. When it finally completes, the sinks must hold exactly what an
// uninterrupted run wrote: no row missing, none repeated.
//
// Scenarios: the in-memory and the RocksDB state backends; restarts alternating the
// parallelism (keyed state redistributed by key group), one of them from a savepoint taken
// with `sluice savepoint`; and a corrupted newest checkpoint, skipped in favour of the one
// before it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_helpers.h"
#ifdef SLUICE_HAS_POSTGRES
#include "connectors/postgres/pg_test_server.h"
#endif
#ifdef SLUICE_HAS_REDIS
#include "connectors/redis/redis_test_server.h"
#endif

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::Rng;
using testing::spawn_sluice;
using testing::TempDir;
using testing::wait_exit;
using testing::with_dir;
using testing::write_file;

constexpr int kRecords = 200000;
constexpr int kRate = 40000;  // records per second in crash runs: the job lasts ~5 s

const char* kJob = R"(
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', format = 'json', event_time = 'ts',
        watermark_delay = '3s'{RATE});
CREATE TABLE agg_file () WITH (connector = 'file', path = '{DIR}/{OUT}/agg.jsonl');
CREATE TABLE agg_db () WITH (connector = 'sqlite', path = '{DIR}/{OUT}/agg.db', table = 'agg');
INSERT INTO agg_file
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total, MIN(v) AS lo, MAX(v) AS hi,
       COUNT(DISTINCT v % 13) AS d
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
INSERT INTO agg_db
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
)";

// Keys 0..299, one event every 2 ms of event time, up to 2 s out of order.
void write_input(const std::string& path) {
  Rng rng{42};
  std::ofstream out(path);
  const int64_t base = 1700000000000;  // ms
  for (int i = 0; i < kRecords; ++i) {
    int64_t ts = base + i * 2 - rng.uniform(0, 2000);
    out << "{\"k\":" << rng.uniform(0, 299) << ",\"v\":" << rng.uniform(-1000, 1000) << ",\"ts\":" << ts << "}\n";
  }
}

// Several INSERTs into one sink (issue 9 point 1): the same results as kJob, each sink fed
// by two INSERTs that split the keys between them; both must land, exactly once, in one
// output (the windowed rows released together in canonical order: byte-identical output).
const char* kMultiInsertJob = R"(
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', format = 'json', event_time = 'ts',
        watermark_delay = '3s'{RATE});
CREATE TABLE agg_file () WITH (connector = 'file', path = '{DIR}/{OUT}/agg.jsonl');
CREATE TABLE agg_db () WITH (connector = 'sqlite', path = '{DIR}/{OUT}/agg.db', table = 'agg');
INSERT INTO agg_file
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total, MIN(v) AS lo, MAX(v) AS hi,
       COUNT(DISTINCT v % 13) AS d
FROM TUMBLE(src, ts, INTERVAL '10 seconds') WHERE k < 150 GROUP BY k, window_start;
INSERT INTO agg_file
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total, MIN(v) AS lo, MAX(v) AS hi,
       COUNT(DISTINCT v % 13) AS d
FROM TUMBLE(src, ts, INTERVAL '10 seconds') WHERE k >= 150 GROUP BY k, window_start;
INSERT INTO agg_db
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') WHERE k % 2 = 0 GROUP BY k, window_start;
INSERT INTO agg_db
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') WHERE k % 2 = 1 GROUP BY k, window_start;
)";

// One of two jobs (issue 9 point 2) loading the same SQLite table, each with its own
// checkpoint directory: {PART} selects its keys. Together they write kJob's agg_db rows.
const char* kLoaderJob = R"(
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', format = 'json', event_time = 'ts',
        watermark_delay = '3s'{RATE});
CREATE TABLE agg_db () WITH (connector = 'sqlite', path = '{DIR}/{OUT}/agg.db', table = 'agg');
INSERT INTO agg_db
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') WHERE k % 2 = {PART} GROUP BY k, window_start;
)";

// kJob with the SQLite sink written by three writers (sink.parallelism, issue 10 point 2):
// each writer commits its own transactions, keyed by its instance; together they hold
// exactly kJob's rows.
const char* kParallelSinkJob = R"(
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', format = 'json', event_time = 'ts',
        watermark_delay = '3s'{RATE});
CREATE TABLE agg_file () WITH (connector = 'file', path = '{DIR}/{OUT}/agg.jsonl');
CREATE TABLE agg_db () WITH (connector = 'sqlite', path = '{DIR}/{OUT}/agg.db', table = 'agg',
                             sink.parallelism = '3');
INSERT INTO agg_file
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total, MIN(v) AS lo, MAX(v) AS hi,
       COUNT(DISTINCT v % 13) AS d
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
INSERT INTO agg_db
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
)";

std::string job_text(const std::string& dir, const std::string& out, bool throttled, const char* job = kJob,
                     const std::string& part = "0") {
  std::string sql = with_dir(job, dir);
  auto put = [&](const std::string& what, const std::string& value) {
    for (size_t pos; (pos = sql.find(what)) != std::string::npos;) sql.replace(pos, what.size(), value);
  };
  put("{OUT}", out);
  put("{PART}", part);
  put("{RATE}", throttled ? std::string(", rate = '") + std::to_string(kRate) + "'" : std::string());
  return sql;
}

// Committed file-sink output: the part files in name order, concatenated (or the single
// file of a run without checkpoints).
std::string file_output(const std::string& dir) {
  std::vector<std::string> parts;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind("agg.part-", 0) == 0 && name.size() > 6 && name.substr(name.size() - 6) == ".jsonl") {
      parts.push_back(e.path().string());
    }
  }
  std::sort(parts.begin(), parts.end());
  std::string all;
  for (const auto& p : parts) all += testing::read_file(p);
  if (parts.empty() && fs::exists(dir + "/agg.jsonl")) all = testing::read_file(dir + "/agg.jsonl");
  return all;
}

std::vector<std::string> sqlite_rows(const std::string& db_path) {
  std::vector<std::string> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT k, window_start, n, total FROM agg ORDER BY k, window_start, n, total", -1, &st,
                         nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < 4; ++c) {
        const unsigned char* t = sqlite3_column_text(st, c);
        row += (t ? reinterpret_cast<const char*>(t) : "NULL") + std::string("|");
      }
      rows.push_back(row);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

bool has_checkpoint_in_progress(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(".tmp-chk-", 0) == 0) return true;
  }
  return false;
}

int count_checkpoints(const std::string& dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) n += e.path().filename().string().rfind("chk-", 0) == 0;
  return n;
}

class CrashTest : public ::testing::Test {
 protected:
  // The job the test crashes (its reference is kJob's uninterrupted run in any case).
  virtual const char* job() const { return kJob; }

  void SetUp() override {
    write_input(dir_.file("in.jsonl"));
    // The reference: one uninterrupted run without checkpoints, as fast as possible.
    fs::create_directories(dir_.file("ref"));
    write_file(dir_.file("ref.sql"), job_text(dir_.path(), "ref", false));
    auto r = testing::run_sluice("run -q ref.sql", dir_.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ref_file_ = file_output(dir_.file("ref"));
    ref_rows_ = sqlite_rows(dir_.file("ref/agg.db"));
    ASSERT_GT(ref_rows_.size(), 1000u);
    ASSERT_EQ(static_cast<size_t>(std::count(ref_file_.begin(), ref_file_.end(), '\n')), ref_rows_.size());
    fs::create_directories(dir_.file("out"));
    write_file(dir_.file("job.sql"), job_text(dir_.path(), "out", true, job()));
  }

  std::vector<std::string> run_args(const std::string& backend, int parallelism, const std::string& job = "job.sql",
                                    const std::string& ck = "ck") const {
    return {"run",          "-q",      job,         "--checkpoint-dir", ck, "--checkpoint-interval", "50ms",
            "--state-backend", backend, "-p", std::to_string(parallelism)};
  }

  // Which job crash_and_complete() runs, where it checkpoints and logs, and its kill timing.
  struct CrashRun {
    std::string job = "job.sql";
    std::string ck = "ck";
    std::string log = "log.txt";
    uint64_t seed = 7;
  };

  // Kills the job `kills` times at random moments (every third kill right when a
  // checkpoint is being written), restarting it each time with the next parallelism of
  // `parallelisms`; then lets it complete. Returns the number of kills that landed while
  // a checkpoint was in progress.
  int crash_and_complete(const std::string& backend, int kills, const std::vector<int>& parallelisms,
                         std::vector<std::string> first_extra_args = {}) {
    int done_kills = 0;
    int during = crash_and_complete(CrashRun{}, backend, kills, parallelisms, first_extra_args, &done_kills);
    kills_ = done_kills;
    return during;
  }

  // As above for `run_spec`; two may run side by side in threads. `kills_made`: kills made.
  int crash_and_complete(const CrashRun& run_spec, const std::string& backend, int kills,
                         const std::vector<int>& parallelisms, const std::vector<std::string>& first_extra_args,
                         int* kills_made) {
    Rng rng{run_spec.seed};
    const std::string log = dir_.file(run_spec.log);
    const std::string ck = dir_.file(run_spec.ck);
    int during_checkpoint = 0;
    int done_kills = 0;
    for (int run = 0;; ++run) {
      auto args = run_args(backend, parallelisms[static_cast<size_t>(run) % parallelisms.size()], run_spec.job,
                           run_spec.ck);
      if (run == 0) args.insert(args.end(), first_extra_args.begin(), first_extra_args.end());
      pid_t pid = spawn_sluice(args, dir_.path(), log);
      if (done_kills >= kills) {
        int code = wait_exit(pid);
        EXPECT_EQ(code, 0) << testing::read_file(log);
        break;
      }
      auto start = std::chrono::steady_clock::now();
      const bool at_checkpoint = done_kills % 3 == 2;
      auto delay = std::chrono::milliseconds(rng.uniform(80, 260));
      bool exited = false;
      while (true) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
          exited = true;
          EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::read_file(log);
          break;
        }
        auto elapsed = std::chrono::steady_clock::now() - start;
        // A kill aimed at a checkpoint waits (up to 5 s: sanitizer builds are slow) for a
        // checkpoint directory being written.
        if (at_checkpoint ? (elapsed > delay && has_checkpoint_in_progress(ck)) || elapsed > std::chrono::seconds(5)
                          : elapsed > delay) {
          if (at_checkpoint && has_checkpoint_in_progress(ck)) ++during_checkpoint;
          kill(pid, SIGKILL);
          wait_exit(pid);
          ++done_kills;
          break;
        }
        std::this_thread::sleep_for(at_checkpoint ? std::chrono::microseconds(200) : std::chrono::microseconds(1000));
      }
      if (exited) {
        // The job completed before it could be killed again: every kill it survived counts.
        break;
      }
    }
    *kills_made = done_kills;
    return during_checkpoint;
  }

  // Runs the job at parallelism 2 for `after`, stops it with `sluice savepoint --stop` and
  // returns the savepoint's path ("" on failure, with the failure recorded).
  std::string run_until_savepoint(std::chrono::milliseconds after) {
    pid_t pid = spawn_sluice(run_args("memory", 2), dir_.path(), dir_.file("log.txt"));
    std::this_thread::sleep_for(after);
    auto sp = testing::run_sluice("savepoint ck --stop --timeout 20", dir_.path());
    EXPECT_EQ(sp.exit_code, 0) << sp.output << testing::read_file(dir_.file("log.txt"));
    EXPECT_EQ(wait_exit(pid), 0) << testing::read_file(dir_.file("log.txt"));
    return sp.exit_code == 0 ? sp.output.substr(0, sp.output.find('\n')) : std::string();
  }

  void expect_same_as_reference() {
    EXPECT_EQ(sqlite_rows(dir_.file("out/agg.db")), ref_rows_);
    std::string out = file_output(dir_.file("out"));
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), std::count(ref_file_.begin(), ref_file_.end(), '\n'));
    EXPECT_TRUE(out == ref_file_) << "file sink output differs from the uninterrupted run";
  }

  TempDir dir_;
  std::string ref_file_;
  std::vector<std::string> ref_rows_;
  int kills_ = 0;
};

TEST_F(CrashTest, KilledAtRandomMomentsMemoryBackendLosesAndRepeatsNothing) {
  int during = crash_and_complete("memory", 20, {2});
  EXPECT_GE(kills_, 20);
  EXPECT_GE(during, 1) << "no kill landed while a checkpoint was being written";
  expect_same_as_reference();
}

TEST_F(CrashTest, KilledAtRandomMomentsRocksDbBackendLosesAndRepeatsNothing) {
  int during = crash_and_complete("rocksdb", 20, {2});
  EXPECT_GE(kills_, 20);
  EXPECT_GE(during, 1);
  expect_same_as_reference();
}

TEST_F(CrashTest, RestartsAtOtherParallelismsAndFromASavepoint) {
  // First run at parallelism 2, stopped with a savepoint (`sluice savepoint --stop`).
  std::string savepoint = run_until_savepoint(std::chrono::milliseconds(600));
  ASSERT_TRUE(fs::exists(savepoint + "/MANIFEST")) << savepoint;
  // Resume from the savepoint at parallelism 3, then keep crashing with 1, 3, 2, ...
  crash_and_complete("memory", 10, {3, 1, 3, 2}, {"--from-savepoint", savepoint});
  EXPECT_GE(kills_, 10);
  expect_same_as_reference();
}

// Upgrading a job: stop with a savepoint, add a query to the file, resume. The existing
// queries keep their state (stable operator ids) and finish exactly as an uninterrupted
// run; the new query starts at the savepoint's source position with empty state.
TEST_F(CrashTest, AddingAQueryKeepsTheStateOfTheOthers) {
  std::string savepoint = run_until_savepoint(std::chrono::milliseconds(1500));
  ASSERT_FALSE(savepoint.empty());
  pid_t pid;

  std::string upgraded = testing::read_file(dir_.file("job.sql")) +
                         "CREATE TABLE counts () WITH (connector = 'file', path = '" + dir_.file("out/counts.jsonl") +
                         "');\nINSERT INTO counts SELECT window_start, COUNT(*) AS n "
                         "FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY window_start;\n";
  write_file(dir_.file("job.sql"), upgraded);
  auto args = run_args("memory", 3);
  args.push_back("--from-savepoint");
  args.push_back(savepoint);
  pid = spawn_sluice(args, dir_.path(), dir_.file("log.txt"));
  ASSERT_EQ(wait_exit(pid), 0) << testing::read_file(dir_.file("log.txt"));
  expect_same_as_reference();

  // The new query saw only the records after the savepoint: fewer than all, more than none.
  std::vector<std::string> parts;
  for (const auto& e : fs::directory_iterator(dir_.file("out"))) {
    if (e.path().filename().string().rfind("counts.part-", 0) == 0) parts.push_back(e.path().string());
  }
  int64_t counted = 0;
  for (const auto& p : parts) {
    std::istringstream in(testing::read_file(p));
    for (std::string line; std::getline(in, line);) {
      auto at = line.find("\"n\":");
      if (at != std::string::npos) counted += std::stoll(line.substr(at + 4));
    }
  }
  EXPECT_GT(counted, 0);
  EXPECT_LT(counted, kRecords);
}

TEST_F(CrashTest, CorruptNewestCheckpointFallsBackToThePreviousOne) {
  pid_t pid = spawn_sluice(run_args("memory", 2), dir_.path(), dir_.file("log.txt"));
  auto start = std::chrono::steady_clock::now();
  while (count_checkpoints(dir_.file("ck")) < 3 && std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  wait_exit(pid);
  std::vector<std::string> chks;
  for (const auto& e : fs::directory_iterator(dir_.file("ck"))) {
    if (e.path().filename().string().rfind("chk-", 0) == 0) chks.push_back(e.path().string());
  }
  std::sort(chks.begin(), chks.end());
  ASSERT_GE(chks.size(), 2u);
  // Flip one byte of a state file of the newest checkpoint.
  std::string victim;
  for (const auto& e : fs::directory_iterator(chks.back())) {
    std::string name = e.path().filename().string();
    if (name.rfind("state.", 0) == 0 && fs::file_size(e.path()) > 0) victim = e.path().string();
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    char c = 0;
    f.seekg(0);
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(0);
    f.write(&c, 1);
  }
  std::string previous_id = fs::path(chks[chks.size() - 2]).filename().string().substr(4);
  previous_id.erase(0, previous_id.find_first_not_of('0'));
  auto args = run_args("memory", 2);
  args.insert(args.begin(), {"--log-level", "info"});
  pid = spawn_sluice(args, dir_.path(), dir_.file("log2.txt"));
  EXPECT_EQ(wait_exit(pid), 0);
  std::string log = testing::read_file(dir_.file("log2.txt"));
  EXPECT_NE(log.find("checkpoint skipped"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming from checkpoint " + previous_id + " "), std::string::npos) << log;
  expect_same_as_reference();
}

class ParallelSinkCrashTest : public CrashTest {
 protected:
  const char* job() const override { return kParallelSinkJob; }
};

TEST_F(ParallelSinkCrashTest, ThreeSqliteWritersLoseAndRepeatNothing) {
  crash_and_complete("memory", 8, {2, 1, 3});
  EXPECT_GE(kills_, 8);
  expect_same_as_reference();
}

class MultiInsertCrashTest : public CrashTest {
 protected:
  const char* job() const override { return kMultiInsertJob; }
};

// Issue 9 point 1: two INSERTs into one file sink and two into one SQLite table, killed at
// random moments: every row of both lands exactly once, the file byte-identical to kJob's.
TEST_F(MultiInsertCrashTest, TwoInsertsIntoOneSinkLoseAndRepeatNothing) {
  crash_and_complete("memory", 8, {2, 1});
  EXPECT_GE(kills_, 8);
  expect_same_as_reference();
}

// Issue 9 point 2: two jobs, each with its own checkpoint directory (so both number their
// checkpoints from 1), load one SQLite table side by side and are killed and restarted
// independently: together they write exactly kJob's rows.
TEST_F(CrashTest, TwoJobsLoadingOneSqliteTableLoseAndRepeatNothing) {
  write_file(dir_.file("even.sql"), job_text(dir_.path(), "out", true, kLoaderJob, "0"));
  write_file(dir_.file("odd.sql"), job_text(dir_.path(), "out", true, kLoaderJob, "1"));
  int kills_even = 0, kills_odd = 0;
  std::thread odd([&] {
    crash_and_complete(CrashRun{"odd.sql", "ck-odd", "log-odd.txt", 11}, "memory", 6, {2}, {}, &kills_odd);
  });
  crash_and_complete(CrashRun{"even.sql", "ck-even", "log-even.txt", 7}, "memory", 6, {2}, {}, &kills_even);
  odd.join();
  EXPECT_GE(kills_even, 6);
  EXPECT_GE(kills_odd, 6);
  EXPECT_EQ(sqlite_rows(dir_.file("out/agg.db")), ref_rows_);
}

#ifdef SLUICE_HAS_POSTGRES
// Issue 12: kJob's SQLite results also go to PostgreSQL (a server the test starts), into an
// append table and an upsert table keyed by (k, window_start). Killed at random moments,
// and with the server itself restarted (pg_ctl restart -m immediate) while the job runs:
// both tables end equal to the uninterrupted run's SQLite rows.
const char* kPostgresSinks = R"(
CREATE TABLE agg_pg_append () WITH (connector = 'postgres', dsn = '{PGDSN}', table = 'agg_append',
                                   create_table = 'true');
CREATE TABLE agg_pg_upsert () WITH (connector = 'postgres', dsn = '{PGDSN}', table = 'agg_upsert',
                                   create_table = 'true', primary_key = 'k,window_start');
INSERT INTO agg_pg_append
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
INSERT INTO agg_pg_upsert
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
)";

class PostgresCrashTest : public CrashTest {
 protected:
  void SetUp() override {
    CrashTest::SetUp();
    if (HasFatalFailure()) return;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dsn_ = testing::PgTestServer::shared().fresh_database(std::string("crash_") + info->name());
    std::string sql = testing::read_file(dir_.file("job.sql")) + kPostgresSinks;
    for (size_t pos; (pos = sql.find("{PGDSN}")) != std::string::npos;) sql.replace(pos, 7, dsn_);
    write_file(dir_.file("job.sql"), sql);
  }
  // The table's rows as sqlite_rows() prints them.
  std::vector<std::string> pg_rows(const std::string& table) const {
    return testing::PgTestServer::shared().query(
        dsn_, "SELECT k || '|' || to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '|' || n || "
              "'|' || total || '|' FROM " + table + " ORDER BY k, window_start, n, total");
  }
  void expect_postgres_same_as_reference() {
    EXPECT_EQ(pg_rows("agg_append"), ref_rows_);
    EXPECT_EQ(pg_rows("agg_upsert"), ref_rows_);
  }
  std::string dsn_;
};

TEST_F(PostgresCrashTest, KilledAtRandomMomentsAppendAndUpsertTablesLoseAndRepeatNothing) {
  crash_and_complete("memory", 20, {2, 1});
  EXPECT_GE(kills_, 20);
  expect_same_as_reference();
  expect_postgres_same_as_reference();
}

TEST_F(PostgresCrashTest, AServerRestartedMidRunIsRetriedAndTheResultIsExact) {
  pid_t pid = spawn_sluice(run_args("memory", 2), dir_.path(), dir_.file("log.txt"));
  std::this_thread::sleep_for(std::chrono::milliseconds(testing::sanitized() ? 4000 : 1500));
  ASSERT_TRUE(testing::PgTestServer::shared().restart_immediate().is_ok());
  // The writers find their connections gone, reconnect and retry with backoff (the
  // server is back within the retry budget): the job itself goes on and completes.
  EXPECT_EQ(wait_exit(pid), 0) << testing::read_file(dir_.file("log.txt"));
  const std::string log = testing::read_file(dir_.file("log.txt"));
  // Lost while writing, or (a slow start: sanitizer builds) unreachable while connecting.
  EXPECT_TRUE(log.find("connection to PostgreSQL lost") != std::string::npos ||
              log.find("cannot connect to PostgreSQL") != std::string::npos)
      << log;
  expect_same_as_reference();
  expect_postgres_same_as_reference();
}
#endif  // SLUICE_HAS_POSTGRES

#ifdef SLUICE_HAS_REDIS
// Issue 12: kJob's SQLite results also go to Redis as hashes keyed by (k, window_start),
// killed at random moments: the keys end equal to the uninterrupted run's rows.
const char* kRedisSink = R"(
CREATE TABLE agg_redis () WITH (connector = 'redis', url = '{REDIS}', key_prefix = 'agg:',
                               primary_key = 'k,window_start');
INSERT INTO agg_redis
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
)";

class RedisCrashTest : public CrashTest {
 protected:
  void SetUp() override {
    CrashTest::SetUp();
    if (HasFatalFailure()) return;
    testing::RedisTestServer::shared().command({"FLUSHALL"});
    std::string sql = testing::read_file(dir_.file("job.sql")) + kRedisSink;
    for (size_t pos; (pos = sql.find("{REDIS}")) != std::string::npos;) {
      sql.replace(pos, 7, testing::RedisTestServer::shared().url());
    }
    write_file(dir_.file("job.sql"), sql);
  }
  // The keys as sqlite_rows() prints the rows ("k|window_start|n|total|", sorted as it sorts).
  std::vector<std::string> redis_rows() const {
    auto& server = testing::RedisTestServer::shared();
    std::vector<std::pair<std::pair<int64_t, std::string>, std::string>> rows;
    for (const std::string& key : server.command({"KEYS", "agg:*"})) {
      const size_t colon = key.find(':', 4);
      const int64_t k = std::stoll(key.substr(4, colon - 4));
      std::string ws = key.substr(colon + 1);  // 2023-11-14T22:13:20Z
      std::replace(ws.begin(), ws.end(), 'T', ' ');
      if (!ws.empty() && ws.back() == 'Z') ws.pop_back();
      const auto n = server.command({"HGET", key, "n"});
      const auto total = server.command({"HGET", key, "total"});
      rows.push_back({{k, ws}, std::to_string(k) + "|" + ws + "|" + n.at(0) + "|" + total.at(0) + "|"});
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> out;
    for (auto& r : rows) out.push_back(r.second);
    return out;
  }
};

TEST_F(RedisCrashTest, KilledAtRandomMomentsKeysEndAsTheUninterruptedRun) {
  crash_and_complete("memory", 20, {2, 1});
  EXPECT_GE(kills_, 20);
  expect_same_as_reference();
  EXPECT_EQ(redis_rows(), ref_rows_);
}
#endif  // SLUICE_HAS_REDIS

}  // namespace
}  // namespace sluice
