// What a checkpoint directory guards against, as a user meets it with `sluice run`:
// - one job per directory: a second job on it is refused, naming the first one's pid;
//   `sluice savepoint` signals only a verified sluice job holding the directory's lock (a
//   stale pid file after `kill -9` may name an unrelated process by now);
// - a checkpoint is resumed only into the input it was taken on: a changed file source
//   (another path, a rewritten file) or another job on the same directory is refused with a
//   one-line error unless --allow-changed-sources; a grown file and an added query are fine;
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
#include <thread>

#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
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
