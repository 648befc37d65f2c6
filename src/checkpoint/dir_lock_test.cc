#include "checkpoint/dir_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sluice {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sluice-lock-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

TEST(CheckpointDirLockTest, SecondLockIsRefusedWithTheHoldersPidAndReleasedOnDestruction) {
  TempDir dir;
  const std::string ck = dir.path + "/ck";
  auto first = CheckpointDirLock::acquire(ck);
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  std::ifstream pid_file(ck + "/sluice.pid");
  long pid = 0;
  ASSERT_TRUE(pid_file >> pid);
  EXPECT_EQ(pid, getpid());
  auto second = CheckpointDirLock::acquire(ck);
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find("in use by another job (pid " + std::to_string(getpid())),
            std::string::npos)
      << second.status().message();
  first.value().reset();
  EXPECT_FALSE(fs::exists(ck + "/sluice.pid"));
  auto third = CheckpointDirLock::acquire(ck);
  EXPECT_TRUE(third.is_ok()) << third.status().message();
}

TEST(CheckpointDirLockTest, RunningJobRejectsStaleAndForeignHolders) {
  TempDir dir;
  auto none = CheckpointDirLock::running_job(dir.path);
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("no job is running on " + dir.path), std::string::npos);

  std::ofstream(dir.path + "/sluice.pid") << getpid() << "\n";  // a live pid, but no lock
  auto stale = CheckpointDirLock::running_job(dir.path);
  ASSERT_FALSE(stale.is_ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kNotFound);
  EXPECT_NE(stale.status().message().find("stale"), std::string::npos) << stale.status().message();

  // Held by this test process: locked and open, but not a `sluice run`.
  auto lock = CheckpointDirLock::acquire(dir.path);
  ASSERT_TRUE(lock.is_ok());
  auto foreign = CheckpointDirLock::running_job(dir.path);
  ASSERT_FALSE(foreign.is_ok());
  EXPECT_NE(foreign.status().message().find("not a `sluice run` process"), std::string::npos)
      << foreign.status().message();
}

}  // namespace
}  // namespace sluice
