// What a checkpoint directory guards against, as a user meets it with `sluice run`:
// - one job per directory: a second job on it is refused, naming the first one's pid;
//   `sluice savepoint` signals only a verified sluice job holding the directory's lock (a
//   stale pid file after `kill -9` may name an unrelated process by now);
// - a checkpoint is resumed only into the input it was taken on: a changed file source
//   (another path, a rewritten file) is refused with a one-line error unless
//   --allow-changed-sources; a grown file and an added query are fine;
// - a checkpoint is resumed only by its job: state of an operator the job lacks (a removed
//   query; another job, even over the same file) is refused unless --allow-non-restored-state;
// - a followed file that is rotated or truncated while the job runs is read like `tail -F`,
//   across restarts too.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::Rng;
using testing::run_sluice;
using testing::spawn_sluice;
using testing::TempDir;
using testing::wait_exit;
using testing::with_dir;
using testing::write_file;

// Waits until `path` holds `pid` (the job locked its checkpoint directory).
bool wait_for_pid_file(const std::string& path, pid_t pid) {
  for (int i = 0; i < 400; ++i) {
    std::ifstream in(path);
    long got = 0;
    if (in >> got && got == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

bool alive(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

// A process that is not sluice and just sleeps; with `lock`, it holds the checkpoint
// directory's lock like a job would and writes its pid.
pid_t spawn_sleeper(const std::string& lock = "") {
  pid_t pid = fork();
  if (pid == 0) {
    if (!lock.empty()) {
      int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0644);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) _exit(2);
      char me[32];
      int n = std::snprintf(me, sizeof me, "%d\n", static_cast<int>(getpid()));
      if (::ftruncate(fd, 0) != 0 || ::write(fd, me, static_cast<size_t>(n)) < 0) _exit(2);
    }
    for (int i = 0; i < 600; ++i) ::usleep(100000);
    _exit(0);
  }
  return pid;
}

const char* kFollowJob = R"(
CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl', follow = 'true');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT n FROM src;
)";

class CheckpointDirCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_.file("in.jsonl"), "{\"n\": 1}\n");
    write_file(dir_.file("job.sql"), with_dir(kFollowJob, dir_.path()));
  }
  pid_t start_job() {
    pid_t pid = spawn_sluice({"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "100ms"},
                             dir_.path(), dir_.file("log.txt"));
    EXPECT_TRUE(wait_for_pid_file(dir_.file("ck/sluice.pid"), pid)) << read_file(dir_.file("log.txt"));
    return pid;
  }
  TempDir dir_;
};

TEST_F(CheckpointDirCliTest, SecondJobOnTheSameDirectoryIsRefusedNamingTheHolder) {
  pid_t first = start_job();
  auto second = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.output.find("in use by another job"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("pid " + std::to_string(first)), std::string::npos) << second.output;
  EXPECT_EQ(std::count(second.output.begin(), second.output.end(), '\n'), 1) << second.output;
  // The first job was not disturbed: it still runs and still answers savepoints.
  EXPECT_TRUE(alive(first));
  auto sp = run_sluice("savepoint ck --timeout 20", dir_.path());
  EXPECT_EQ(sp.exit_code, 0) << sp.output;
  EXPECT_EQ(testing::interrupt_and_wait(first), 0) << read_file(dir_.file("log.txt"));
  EXPECT_FALSE(fs::exists(dir_.file("ck/sluice.pid"))) << "a clean exit removes the pid file";
}

TEST_F(CheckpointDirCliTest, AKilledJobLeavesAStalePidThatIsNeverSignalled) {
  pid_t job = start_job();
  kill(job, SIGKILL);
  wait_exit(job);
  ASSERT_TRUE(fs::exists(dir_.file("ck/sluice.pid")));
  auto stale = run_sluice("savepoint ck --timeout 2", dir_.path());
  EXPECT_NE(stale.exit_code, 0);
  EXPECT_NE(stale.output.find("no job is running on ck"), std::string::npos) << stale.output;

  // The pid was reused by an unrelated process: it must not be signalled.
  pid_t unrelated = spawn_sleeper();
  write_file(dir_.file("ck/sluice.pid"), std::to_string(unrelated) + "\n");
  auto reused = run_sluice("savepoint ck --stop --timeout 2", dir_.path());
  EXPECT_NE(reused.exit_code, 0);
  EXPECT_NE(reused.output.find("no job is running on ck"), std::string::npos) << reused.output;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(alive(unrelated)) << "savepoint signalled an unrelated process";
  kill(unrelated, SIGKILL);
  wait_exit(unrelated);

  // A new job takes over the directory despite the stale file.
  pid_t next = start_job();
  EXPECT_TRUE(alive(next));
  EXPECT_EQ(testing::interrupt_and_wait(next), 0) << read_file(dir_.file("log.txt"));
}

TEST_F(CheckpointDirCliTest, SavepointRefusesALockHolderThatIsNotASluiceJob) {
  fs::create_directories(dir_.file("ck"));
  pid_t holder = spawn_sleeper(dir_.file("ck/sluice.pid"));
  ASSERT_TRUE(wait_for_pid_file(dir_.file("ck/sluice.pid"), holder));
  auto r = run_sluice("savepoint ck --timeout 2", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("is not a `sluice run` process"), std::string::npos) << r.output;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(alive(holder));
  // And no job runs while another process holds the lock.
  auto run = run_sluice("run -q job.sql --checkpoint-dir ck", dir_.path());
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("pid " + std::to_string(holder)), std::string::npos) << run.output;
  kill(holder, SIGKILL);
  wait_exit(holder);
}

TEST_F(CheckpointDirCliTest, SavepointWithoutAnyJobSaysNoJobIsRunning) {
  auto r = run_sluice("savepoint ck --timeout 2", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no job is running on ck"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The committed output of the file sink `out` in `dir` (its part files in name order), as the
// list of `n` values.
std::vector<int64_t> committed(const std::string& dir) {
  std::vector<std::string> parts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("out.part-", 0) == 0) parts.push_back(e.path().string());
  }
  std::sort(parts.begin(), parts.end());
  std::vector<int64_t> values;
  for (const auto& p : parts) {
    std::istringstream in(read_file(p));
    for (std::string line; std::getline(in, line);) {
      auto at = line.find("\"n\":");
      if (at != std::string::npos) values.push_back(std::stoll(line.substr(at + 4)));
    }
  }
  return values;
}

std::vector<int64_t> range(int64_t from, int64_t to) {  // [from, to]
  std::vector<int64_t> v;
  for (int64_t i = from; i <= to; ++i) v.push_back(i);
  return v;
}

// Appends lines {"n": from} .. {"n": to} to `path`.
void append_lines(const std::string& path, int64_t from, int64_t to) {
  std::ofstream out(path, std::ios::app);
  for (int64_t i = from; i <= to; ++i) out << "{\"n\": " << i << "}\n";
}

// Waits (up to 20 s) until the committed output ends with `tail`; returns the output.
std::vector<int64_t> wait_until_committed_ends_with(const std::string& dir, const std::vector<int64_t>& tail) {
  std::vector<int64_t> got;
  for (int i = 0; i < 2000; ++i) {
    got = committed(dir);
    if (got.size() >= tail.size() && std::equal(tail.begin(), tail.end(), got.end() - static_cast<long>(tail.size()))) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return got;
}

int newest_checkpoint_offset(const std::string& ck) {
  std::vector<std::string> chks;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ck, ec)) {
    if (e.path().filename().string().rfind("chk-", 0) == 0) chks.push_back(e.path().string());
  }
  if (chks.empty()) return -1;
  std::sort(chks.begin(), chks.end());
  std::string job = read_file(chks.back() + "/job.json");
  auto at = job.find("\"offset\":");
  return at == std::string::npos ? -1 : std::stoi(job.substr(at + 9));
}

const char* kFileJob = R"(
CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '{DIR}/{IN}'{OPTIONS});
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT n FROM src;
)";

class ResumeGuardTest : public ::testing::Test {
 protected:
  void write_job(const std::string& input, const std::string& options) {
    std::string sql = with_dir(kFileJob, dir_.path());
    sql.replace(sql.find("{IN}"), 4, input);
    sql.replace(sql.find("{OPTIONS}"), 9, options);
    write_file(dir_.file("job.sql"), sql);
  }
  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "50ms"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // Starts the job and kills it once a checkpoint has recorded an offset of at least
  // `min_offset` bytes (the input must be throttled so that it is still running).
  void run_and_kill_after(int min_offset) {
    pid_t pid = spawn_sluice(args(), dir_.path(), dir_.file("log.txt"));
    for (int i = 0; i < 1000 && newest_checkpoint_offset(dir_.file("ck")) < min_offset; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    wait_exit(pid);
    ASSERT_GE(newest_checkpoint_offset(dir_.file("ck")), min_offset) << read_file(dir_.file("log.txt"));
  }
  testing::CommandResult rerun(const std::string& extra = "") {
    return run_sluice("run -q job.sql --checkpoint-dir ck --checkpoint-interval 50ms " + extra, dir_.path());
  }
  // other.sql: another job reading in.jsonl as table `table` into totals.jsonl.
  void write_other_job(const std::string& table) {
    std::string sql = with_dir(R"(
      CREATE TABLE {T} (n BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
      CREATE TABLE totals () WITH (connector = 'file', path = '{DIR}/totals.jsonl');
      INSERT INTO totals SELECT n + 1 AS m FROM {T};)", dir_.path());
    for (size_t at; (at = sql.find("{T}")) != std::string::npos;) sql.replace(at, 3, table);
    write_file(dir_.file("other.sql"), sql);
  }
  static void expect_one_line_error(const testing::CommandResult& r, const std::string& what) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  TempDir dir_;
};

// The issue's case: the path of a file source changed between two runs on one checkpoint
// directory. The old offset must not be applied to the new file.
TEST_F(ResumeGuardTest, ChangedPathIsRefusedUnlessAllowedAndThenReadFromTheStart) {
  append_lines(dir_.file("a.jsonl"), 1, 20000);
  append_lines(dir_.file("b.jsonl"), 100001, 120000);
  write_job("a.jsonl", ", rate = '10000'");
  run_and_kill_after(20000);
  write_job("b.jsonl", "");
  auto refused = rerun();
  expect_one_line_error(refused, "refusing to resume a changed source");
  EXPECT_NE(refused.output.find("b.jsonl"), std::string::npos) << refused.output;
  auto allowed = rerun("--allow-changed-sources");
  ASSERT_EQ(allowed.exit_code, 0) << allowed.output;
  EXPECT_NE(allowed.output.find("reading it from the start"), std::string::npos) << allowed.output;
  // What the old checkpoint covered of a.jsonl, then every line of the new file.
  auto after = committed(dir_.path());
  ASSERT_GT(after.size(), 20000u);
  const int64_t old_lines = static_cast<int64_t>(after.size()) - 20000;
  EXPECT_EQ(std::vector<int64_t>(after.begin(), after.begin() + old_lines), range(1, old_lines));
  EXPECT_EQ(std::vector<int64_t>(after.begin() + old_lines, after.end()), range(100001, 120000));
}

TEST_F(ResumeGuardTest, FileRewrittenSinceTheCheckpointIsRefused) {
  append_lines(dir_.file("in.jsonl"), 1, 20000);
  write_job("in.jsonl", ", rate = '10000'");
  run_and_kill_after(20000);
  fs::remove(dir_.file("in.jsonl"));
  append_lines(dir_.file("in.jsonl"), 500001, 530000);  // another file, larger, same path
  expect_one_line_error(rerun(), "changed since the checkpoint");
  // Rewritten in place (same inode), shorter than the recorded offset.
  write_file(dir_.file("in.jsonl"), "{\"n\": 1}\n");
  auto shorter = rerun();
  expect_one_line_error(shorter, "changed since the checkpoint");
  EXPECT_NE(shorter.output.find("fewer than the"), std::string::npos) << shorter.output;
}

// A file that only grew since the checkpoint (appended; here also copied to a new inode)
// resumes where it stopped: every line exactly once.
TEST_F(ResumeGuardTest, GrownFileResumesExactlyOnce) {
  append_lines(dir_.file("in.jsonl"), 1, 20000);
  write_job("in.jsonl", ", rate = '10000'");
  run_and_kill_after(20000);
  fs::copy_file(dir_.file("in.jsonl"), dir_.file("copy.jsonl"));
  fs::rename(dir_.file("copy.jsonl"), dir_.file("in.jsonl"));
  append_lines(dir_.file("in.jsonl"), 20001, 25000);
  write_job("in.jsonl", "");
  auto r = rerun();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(committed(dir_.path()), range(1, 25000));
}

TEST_F(ResumeGuardTest, AnotherJobOnTheSameDirectoryIsRefused) {
  append_lines(dir_.file("in.jsonl"), 1, 20000);
  write_job("in.jsonl", ", rate = '10000'");
  run_and_kill_after(20000);
  write_other_job("clicks");
  auto r = run_sluice("run -q other.sql --checkpoint-dir ck", dir_.path());
  expect_one_line_error(r, "belongs to another job");
}

// Files of `dir` whose name starts with `prefix` (a sink's parts, pending or committed).
int files_named(const std::string& dir, const std::string& prefix) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(prefix, 0) == 0;
  return n;
}

// Issue 9 point 3: another job that reads the same file under the same table name shares
// the source but none of the checkpoint's stateful operators: resumed, its query would
// start in the middle of the file. Refused (nothing written) unless
// --allow-non-restored-state.
TEST_F(ResumeGuardTest, AnotherJobReadingTheSameFileIsRefusedUnlessAllowed) {
  append_lines(dir_.file("in.jsonl"), 1, 20000);
  write_job("in.jsonl", ", rate = '10000'");
  run_and_kill_after(20000);
  write_other_job("src");  // the same table name as the checkpointed job
  auto refused = run_sluice("run -q other.sql --checkpoint-dir ck", dir_.path());
  expect_one_line_error(refused, "belongs to another job");
  EXPECT_NE(refused.output.find("in 'ck'"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--allow-non-restored-state"), std::string::npos) << refused.output;
  EXPECT_EQ(files_named(dir_.path(), "totals"), 0);

  auto allowed = run_sluice("run -q other.sql --checkpoint-dir ck --allow-non-restored-state", dir_.path());
  ASSERT_EQ(allowed.exit_code, 0) << allowed.output;
  EXPECT_NE(allowed.output.find("resuming without that state"), std::string::npos) << allowed.output;
  EXPECT_GT(files_named(dir_.path(), "totals.part-"), 0);
}

// A query removed from the job leaves its state (here: its sink's) without an operator.
TEST_F(ResumeGuardTest, ARemovedQueryIsRefusedUnlessAllowed) {
  append_lines(dir_.file("in.jsonl"), 1, 20000);
  write_job("in.jsonl", ", rate = '10000'");
  const std::string one_query = read_file(dir_.file("job.sql"));
  write_file(dir_.file("job.sql"), one_query + with_dir(R"(
    CREATE TABLE copy () WITH (connector = 'file', path = '{DIR}/copy.jsonl');
    INSERT INTO copy SELECT n FROM src;)", dir_.path()));
  run_and_kill_after(20000);
  write_job("in.jsonl", "");
  auto refused = rerun();
  expect_one_line_error(refused, "operator(s) this job does not have");
  EXPECT_NE(refused.output.find("copy.sink"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--allow-non-restored-state"), std::string::npos) << refused.output;
  auto allowed = rerun("--allow-non-restored-state");
  ASSERT_EQ(allowed.exit_code, 0) << allowed.output;
  EXPECT_EQ(committed(dir_.path()), range(1, 20000));  // the kept query resumed exactly once
}

// An upgrade that adds a query keeps every operator of the checkpoint: resumed, the old
// query exactly once, the new one from the recorded position.
TEST_F(ResumeGuardTest, AnAddedQueryResumesTheOthersExactlyOnce) {
  append_lines(dir_.file("in.jsonl"), 1, 20000);
  write_job("in.jsonl", ", rate = '10000'");
  run_and_kill_after(20000);
  write_job("in.jsonl", "");
  write_file(dir_.file("job.sql"), read_file(dir_.file("job.sql")) + with_dir(R"(
    CREATE TABLE copy () WITH (connector = 'file', path = '{DIR}/copy.jsonl');
    INSERT INTO copy SELECT n FROM src;)", dir_.path()));
  auto r = rerun();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(committed(dir_.path()), range(1, 20000));
  EXPECT_GT(files_named(dir_.path(), "copy.part-"), 0);
}

// Crash test for point 3: a bounded file source grows while the job is down (appended, and
// some rounds replaced by a grown copy: a new inode with the same bytes before the offset),
// and the job is killed at random moments while it resumes. The committed output of the
// exactly-once file sink holds every line exactly once, in order.
TEST_F(ResumeGuardTest, GrowingFileUnderKillsAtRandomMomentsLosesAndRepeatsNothing) {
  Rng rng{909};
  constexpr int64_t kPerRound = 3000;
  write_job("in.jsonl", ", rate = '10000'");
  int64_t written = 0;
  int kills = 0;
  for (int round = 0; round < 10; ++round) {
    append_lines(dir_.file("in.jsonl"), written + 1, written + kPerRound);
    written += kPerRound;
    if (rng.chance(0.4)) {  // the same bytes under a new inode, as a copying rotation would leave them
      fs::copy_file(dir_.file("in.jsonl"), dir_.file("copy.jsonl"));
      fs::rename(dir_.file("copy.jsonl"), dir_.file("in.jsonl"));
    }
    // The backlog takes at least 300 ms at the rate: killed before the end of the input, so
    // no run finishes its splits and the next round's lines are read by a resumed run.
    pid_t pid = spawn_sluice(args(), dir_.path(), dir_.file("log.txt"));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(20, 280)));
    kill(pid, SIGKILL);
    ASSERT_EQ(wait_exit(pid), -SIGKILL) << "the run ended before it was killed: " << read_file(dir_.file("log.txt"));
    ++kills;
  }
  auto r = rerun();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto got = committed(dir_.path());
  EXPECT_EQ(got.size(), static_cast<size_t>(written));
  EXPECT_TRUE(got == range(1, written)) << "the committed output is not every line exactly once, in order";
  EXPECT_EQ(kills, 10);
}

TEST_F(ResumeGuardTest, GeneratorWithOtherSequenceOptionsIsRefused) {
  const char* job = R"(
    CREATE TABLE src (user_id BIGINT) WITH (connector = 'generator', seed = '{SEED}', rate = '20000');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT user_id AS n FROM src;)";
  auto write = [&](const std::string& seed) {
    std::string sql = with_dir(job, dir_.path());
    sql.replace(sql.find("{SEED}"), 6, seed);
    write_file(dir_.file("job.sql"), sql);
  };
  write("1");
  run_and_kill_after(1000);
  write("2");
  expect_one_line_error(rerun(), "refusing to resume a changed source");
}

// Follow mode like `tail -F`: a rotated file (rename + new file) is read to its end, then the
// new file from its start; a truncated file (copytruncate) is read again from the start.
TEST_F(ResumeGuardTest, FollowedFileRotatedAndTruncatedWhileRunningLosesNothing) {
  append_lines(dir_.file("in.log"), 1, 100);
  write_job("in.log", ", follow = 'true'");
  pid_t pid = spawn_sluice(args(), dir_.path(), dir_.file("log.txt"));
  auto wait_committed = [&](size_t n) {
    return wait_until_committed_ends_with(dir_.path(), range(static_cast<int64_t>(n), static_cast<int64_t>(n))).size();
  };
  EXPECT_EQ(wait_committed(100), 100u);
  append_lines(dir_.file("in.log"), 101, 200);
  fs::rename(dir_.file("in.log"), dir_.file("in.log.1"));
  append_lines(dir_.file("in.log"), 201, 300);
  EXPECT_EQ(wait_committed(300), 300u);
  fs::copy_file(dir_.file("in.log"), dir_.file("in.log.2"));
  fs::resize_file(dir_.file("in.log"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  append_lines(dir_.file("in.log"), 301, 310);
  EXPECT_EQ(wait_committed(310), 310u);
  // Truncated and rewritten beyond the read position between two polls: noticed by its
  // first bytes.
  fs::resize_file(dir_.file("in.log"), 0);
  append_lines(dir_.file("in.log"), 311, 400);
  EXPECT_EQ(wait_committed(400), 400u);
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0) << read_file(dir_.file("log.txt"));
  EXPECT_EQ(committed(dir_.path()), range(1, 400)) << read_file(dir_.file("log.txt"));
}

// Rotated while the job was down, with lines of the old file not read yet: the restart
// finds the old file by its inode (same directory, any name), reads it to its end, then
// the new file.
TEST_F(ResumeGuardTest, FollowedFileRotatedWhileDownResumesInTheRotatedFile) {
  append_lines(dir_.file("in.log"), 1, 20000);
  write_job("in.log", ", follow = 'true', rate = '10000'");
  run_and_kill_after(20000);
  fs::rename(dir_.file("in.log"), dir_.file("in.log.1"));
  append_lines(dir_.file("in.log"), 20001, 21000);
  pid_t pid = spawn_sluice(args(), dir_.path(), dir_.file("log.txt"));
  wait_until_committed_ends_with(dir_.path(), range(20001, 21000));
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0);
  EXPECT_EQ(committed(dir_.path()), range(1, 21000)) << read_file(dir_.file("log.txt"));
}

// The rotated file is gone at restart: what was written to it after the checkpoint cannot
// be read. Refused (one line), unless --allow-changed-sources: then the new file is read
// from its start.
TEST_F(ResumeGuardTest, FollowedFileRotatedAwayAndGoneIsRefused) {
  append_lines(dir_.file("in.log"), 1, 20000);
  write_job("in.log", ", follow = 'true', rate = '10000'");
  run_and_kill_after(20000);
  fs::rename(dir_.file("in.log"), dir_.file("gone.log"));
  append_lines(dir_.file("in.log"), 20001, 21000);
  fs::remove(dir_.file("gone.log"));
  auto refused = rerun();
  expect_one_line_error(refused, "is no longer in");
  pid_t pid = spawn_sluice(args({"--allow-changed-sources"}), dir_.path(), dir_.file("log.txt"));
  wait_until_committed_ends_with(dir_.path(), range(20001, 21000));
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0);
  // What the checkpoint covered of the old file, then the new file from its start.
  auto after = committed(dir_.path());
  ASSERT_GT(after.size(), 1000u);
  const int64_t old_lines = static_cast<int64_t>(after.size()) - 1000;
  EXPECT_EQ(std::vector<int64_t>(after.begin(), after.begin() + old_lines), range(1, old_lines));
  EXPECT_EQ(std::vector<int64_t>(after.begin() + old_lines, after.end()), range(20001, 21000))
      << read_file(dir_.file("log.txt"));
}

// Truncated while the job was down (copytruncate): read again from the start.
TEST_F(ResumeGuardTest, FollowedFileTruncatedWhileDownIsReadFromTheStart) {
  append_lines(dir_.file("in.log"), 1, 20000);
  write_job("in.log", ", follow = 'true', rate = '10000'");
  run_and_kill_after(20000);
  fs::resize_file(dir_.file("in.log"), 0);
  append_lines(dir_.file("in.log"), 30001, 30500);
  pid_t pid = spawn_sluice(args(), dir_.path(), dir_.file("log.txt"));
  wait_until_committed_ends_with(dir_.path(), range(30001, 30500));
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0);
  auto after = committed(dir_.path());
  ASSERT_GT(after.size(), 500u);
  const int64_t old_lines = static_cast<int64_t>(after.size()) - 500;
  EXPECT_EQ(std::vector<int64_t>(after.begin(), after.begin() + old_lines), range(1, old_lines));
  EXPECT_EQ(std::vector<int64_t>(after.begin() + old_lines, after.end()), range(30001, 30500))
      << read_file(dir_.file("log.txt"));
}

// Crash test: follow mode under `kill -9`: a followed log file is appended to, rotated (rename + new
// file) and copytruncated while the job runs, and the job is killed at random moments and
// restarted from its checkpoints (some rotations and truncations happen while it is down,
// some right before a kill). The committed output of the exactly-once file sink must hold
// every line exactly once, in order.
//
// What the writer guarantees (as logrotate setups do): a file is rotated only after the
// reader has moved past the previous rotation or truncation (one at a time is followed; a
// file truncated and then rotated away before any checkpoint saw it again is refused at
// restart), and truncated only after everything in it was read (copytruncate loses what
// was not).
constexpr int kRounds = 15;
constexpr int kLinesPerRound = 1200;

class FollowCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_.file("job.sql"), with_dir(R"(
      CREATE TABLE src (n BIGINT, pad TEXT)
        WITH (connector = 'file', path = '{DIR}/in.log', follow = 'true', rate = '30000');
      CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
      INSERT INTO out SELECT n FROM src;)",
                                              dir_.path()));
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      wait_exit(pid_);
    }
  }

  void append(int64_t lines) {
    std::ofstream out(dir_.file("in.log"), std::ios::app);
    for (int64_t i = 0; i < lines; ++i) {
      ++written_;
      out << "{\"n\": " << written_ << ", \"pad\": \"" << std::string(static_cast<size_t>(written_ % 37), 'x')
          << "\"}\n";
    }
  }

  int64_t last_committed() const {
    auto c = committed(dir_.path());
    return c.empty() ? 0 : c.back();
  }

  void start() {
    if (pid_ > 0) return;
    pid_ = spawn_sluice({"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "50ms"},
                        dir_.path(), dir_.file("log.txt"));
  }
  void kill_job() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    wait_exit(pid_);
    pid_ = -1;
    ++kills_;
  }
  // Runs the job until line `n` is committed (20 s at most).
  void commit_through(int64_t n) {
    if (last_committed() >= n) return;
    start();
    for (int i = 0; i < 2000 && last_committed() < n; ++i) {
      int status = 0;
      ASSERT_NE(waitpid(pid_, &status, WNOHANG), pid_) << "the job exited: " << read_file(dir_.file("log.txt"));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(last_committed(), n) << read_file(dir_.file("log.txt"));
  }

  TempDir dir_;
  pid_t pid_ = -1;
  int64_t written_ = 0;
  int kills_ = 0;
};

TEST_F(FollowCrashTest, RotationAndCopytruncateUnderKillsLoseAndRepeatNothing) {
  Rng rng{2024};
  // Lines written before the latest rotation or truncation: the next rotation waits until
  // the reader's committed checkpoint is past it.
  int64_t before_rotation = 0;
  int rotations = 0, rotations_while_down = 0, truncations = 0;
  start();
  for (int round = 0; round < kRounds; ++round) {
    for (int piece = 0; piece < 3; ++piece) {
      append(kLinesPerRound / 3);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(0, 40)));
    }
    if (rng.chance(0.7)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(0, 120)));
      kill_job();
    }
    switch (round % 3) {
      case 0: {
        // Rotate once the reader (its committed checkpoint) is past the previous rotation;
        // while the job is down when it already is.
        ASSERT_NO_FATAL_FAILURE(commit_through(before_rotation + 1));
        // At least one rotation while the job is down: on a slow machine (a sanitizer build)
        // the reader's checkpoint is rarely ahead already, so commit_through restarts it.
        if (pid_ >= 0 && rotations_while_down == 0 && rotations >= 1) kill_job();
        rotations_while_down += pid_ < 0;
        fs::rename(dir_.file("in.log"), dir_.file("in.log." + std::to_string(round)));
        before_rotation = written_;
        ++rotations;
        break;
      }
      case 1: {
        // copytruncate, once everything was read (and committed); sometimes killed at once.
        ASSERT_NO_FATAL_FAILURE(commit_through(written_));
        fs::copy_file(dir_.file("in.log"), dir_.file("in.log.copy" + std::to_string(round)));
        fs::resize_file(dir_.file("in.log"), 0);
        before_rotation = written_;
        ++truncations;
        if (rng.chance(0.5)) kill_job();
        break;
      }
      default:
        break;
    }
    start();
  }
  ASSERT_NO_FATAL_FAILURE(commit_through(written_));
  // The job may have been started a moment ago: a SIGINT before its main() runs ends it by
  // the signal (like any program), so wait until it has locked the directory.
  for (int i = 0; i < 2000 && read_file(dir_.file("ck/sluice.pid")) != std::to_string(pid_) + "\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(testing::interrupt_and_wait(pid_), 0) << read_file(dir_.file("log.txt"));
  pid_ = -1;
  std::vector<int64_t> want(static_cast<size_t>(written_));
  for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<int64_t>(i) + 1;
  auto got = committed(dir_.path());
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "the committed output is not every line exactly once, in order\n"
                           << read_file(dir_.file("log.txt"));
  EXPECT_GE(kills_, 8);
  EXPECT_GE(rotations, 4);
  EXPECT_GE(truncations, 4);
  EXPECT_GE(rotations_while_down, 1);
}

}  // namespace
}  // namespace sluice
