// Sinks never lose or repeat rows silently, as a user of `sluice run` meets it (issue 9):
// a job whose checkpoints are all lost refuses a fresh start that would repeat what it
// committed (and --start-over rolls it back), also when the whole checkpoint directory was
// deleted (commit records name the directory); an output deleted while the job runs fails
// the job; the checkpoint directory names the job (job_id).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::run_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

const char* kJob = R"(
CREATE TABLE src (k BIGINT, v BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl'{RATE});
CREATE TABLE rows_file () WITH (connector = 'file', path = '{DIR}/out/rows.jsonl');
CREATE TABLE rows_db () WITH (connector = 'sqlite', path = '{DIR}/out/rows.db', table = 'rows');
INSERT INTO rows_file SELECT k, v FROM src;
INSERT INTO rows_db SELECT k, v FROM src;
)";

std::string job(const std::string& dir, const std::string& rate = "") {
  std::string sql = with_dir(kJob, dir);
  sql.replace(sql.find("{RATE}"), 6, rate.empty() ? "" : ", rate = '" + rate + "'");
  return sql;
}

void write_input(const std::string& path, int records) {
  std::ofstream out(path);
  for (int i = 0; i < records; ++i) out << "{\"k\":" << i << ",\"v\":" << i * 7 << "}\n";
}

int64_t sqlite_count(const std::string& db_path) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM rows", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

// Runs `sql` on the database `db_path` (created if missing).
void exec_sql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// Lines of every committed part of rows.jsonl.
int64_t file_lines(const std::string& dir) {
  int64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("rows.part-", 0) != 0) continue;
    std::string text = read_file(e.path().string());
    n += std::count(text.begin(), text.end(), '\n');
  }
  return n;
}

void remove_checkpoints(const std::string& ck) {
  for (const auto& e : fs::directory_iterator(ck)) {
    if (e.path().filename().string().rfind("chk-", 0) == 0) fs::remove_all(e.path());
  }
}

class SinkSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.file("out"));
    write_input(dir_.file("in.jsonl"), 1000);
    write_file(dir_.file("job.sql"), job(dir_.path()));
  }
  TempDir dir_;
};

// Issue 9 point 6: the job committed, then every checkpoint is gone; the job id remains.
TEST_F(SinkSafetyTest, AFreshStartOverCommittedRowsIsRefusedUntilStartOver) {
  auto first = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(sqlite_count(dir_.file("out/rows.db")), 1000);
  ASSERT_EQ(file_lines(dir_.file("out")), 1000);
  const std::string job_id = read_file(dir_.file("ck/job_id"));
  EXPECT_EQ(job_id.size(), 33u) << job_id;  // 32 hex digits and a newline

  remove_checkpoints(dir_.file("ck"));
  auto refused = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("up to checkpoint 1"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--start-over"), std::string::npos) << refused.output;
  EXPECT_EQ(sqlite_count(dir_.file("out/rows.db")), 1000);
  EXPECT_EQ(file_lines(dir_.file("out")), 1000);

  auto over = run_sluice("run -q job.sql --checkpoint-dir ck --start-over", dir_.path());
  ASSERT_EQ(over.exit_code, 0) << over.output;
  EXPECT_EQ(sqlite_count(dir_.file("out/rows.db")), 1000);  // rolled back, then written once
  EXPECT_EQ(file_lines(dir_.file("out")), 1000);
  EXPECT_EQ(read_file(dir_.file("ck/job_id")), job_id);

  // --start-over while a checkpoint can be resumed is refused: it would undo what it covers.
  auto resumable = run_sluice("run -q job.sql --checkpoint-dir ck --start-over", dir_.path());
  EXPECT_EQ(resumable.exit_code, 1) << resumable.output;
  EXPECT_NE(resumable.output.find("can be resumed"), std::string::npos) << resumable.output;
}

// Issue 9 point 6, corrupt instead of deleted: every checkpoint fails its checksum.
TEST_F(SinkSafetyTest, AllCheckpointsCorruptIsRefused) {
  auto first = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  for (const auto& chk : fs::directory_iterator(dir_.file("ck"))) {
    if (chk.path().filename().string().rfind("chk-", 0) != 0) continue;
    std::fstream f(chk.path() / "job.json", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("#", 1);
  }
  auto refused = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("--start-over"), std::string::npos) << refused.output;
  EXPECT_EQ(sqlite_count(dir_.file("out/rows.db")), 1000);
}

// Issue 9 point 6, the whole checkpoint directory deleted (its job_id file with it): the job
// comes back under a new job id, but the SQLite table's commit records name the directory
// they were made from, so the rows committed from it are known as this job's: refused, and
// --start-over rolls them back.
TEST_F(SinkSafetyTest, ADeletedCheckpointDirectoryIsRefusedUntilStartOver) {
  auto first = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string resolved = fs::canonical(dir_.file("ck")).string();
  fs::remove_all(dir_.file("ck"));
  auto refused = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("'" + resolved + "'"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("deleted or replaced"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--start-over"), std::string::npos) << refused.output;
  EXPECT_EQ(sqlite_count(dir_.file("out/rows.db")), 1000);
  // Refused again: the new job_id the refused run left behind changes nothing.
  EXPECT_EQ(run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path()).exit_code, 1);

  auto over = run_sluice("run -q job.sql --checkpoint-dir ck --start-over", dir_.path());
  ASSERT_EQ(over.exit_code, 0) << over.output;
  EXPECT_EQ(sqlite_count(dir_.file("out/rows.db")), 1000);  // rolled back, then written once
  EXPECT_EQ(file_lines(dir_.file("out")), 1000);
  auto resumed = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(sqlite_count(dir_.file("out/rows.db")), 1000);
}

// Issue 9 point 2 stays true: jobs with checkpoint directories of their own (per-partition
// loaders) load one table, each with a new job id, and are not taken for a deleted one.
TEST_F(SinkSafetyTest, JobsWithTheirOwnCheckpointDirectoriesLoadOneTable) {
  auto a = run_sluice("run -q job.sql --checkpoint-dir ck-a", dir_.path());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_sluice("run -q job.sql --checkpoint-dir ck-b", dir_.path());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("also holds rows committed by other jobs"), std::string::npos) << b.output;
  EXPECT_EQ(sqlite_count(dir_.file("out/rows.db")), 2000);
}

// Commit records of a sluice that did not record the checkpoint directory: the column is
// added (older rows: no directory), and this job's commits record it.
TEST_F(SinkSafetyTest, CommitRecordsWithoutTheCheckpointDirectoryAreMigrated) {
  exec_sql(dir_.file("out/rows.db"),
           "CREATE TABLE _sluice_commits (job_id TEXT NOT NULL, sink_id TEXT NOT NULL, table_name TEXT "
           "NOT NULL, checkpoint_id INTEGER NOT NULL, PRIMARY KEY (job_id, sink_id)); INSERT INTO _sluice_commits "
           "VALUES ('0123', 'rows_db.sink.000000/0', 'rows', 7)");
  auto first = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string job_id = read_file(dir_.file("ck/job_id")).substr(0, 32);
  EXPECT_EQ(testing::sqlite_query(dir_.file("out/rows.db"),
                                  "SELECT job_id, checkpoint_dir FROM _sluice_commits ORDER BY job_id"),
            "0123|\n" + job_id + "|" + fs::canonical(dir_.file("ck")).string() + "\n");
  fs::remove_all(dir_.file("ck"));
  EXPECT_EQ(run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path()).exit_code, 1);
}

// Issue 9 point 7: the output deleted while the job runs (no checkpoints): the job fails
// with a non-zero exit instead of reporting success over rows written to nowhere.
TEST_F(SinkSafetyTest, AnOutputDeletedDuringTheRunFailsTheJob) {
  write_input(dir_.file("in.jsonl"), 4000);
  write_file(dir_.file("job.sql"), job(dir_.path(), "2000"));  // about 2 s
  for (const char* victim : {"out/rows.jsonl", "out/rows.db"}) {
    fs::remove_all(dir_.file("out"));  // so that the victim seen below is this run's
    fs::create_directories(dir_.file("out"));
    pid_t pid = testing::spawn_sluice({"run", "-q", "job.sql"}, dir_.path(), dir_.file("log.txt"));
    auto start = std::chrono::steady_clock::now();
    while (!fs::exists(dir_.file(victim)) && std::chrono::steady_clock::now() - start < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(::unlink(dir_.file(victim).c_str()), 0) << victim;
    EXPECT_EQ(testing::wait_exit(pid), 1) << victim;
    std::string log = read_file(dir_.file("log.txt"));
    EXPECT_NE(log.find("was deleted"), std::string::npos) << victim << ": " << log;
    fs::remove(dir_.file("log.txt"));
  }
}

}  // namespace
}  // namespace sluice
