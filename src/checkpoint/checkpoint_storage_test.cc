#include "checkpoint/checkpoint_storage.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sluice {
namespace {

namespace fs = std::filesystem;

class CheckpointStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sluice-chk-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<CheckpointFile> state(const std::string& tag) {
    return {{"operator-1.state", "window state " + tag}, {"sources.json", "{\"offset\": " + tag + "}"}};
  }
  std::string dir_;
};

TEST_F(CheckpointStorageTest, WrittenCheckpointReadsBackVerified) {
  CheckpointStorage s(dir_, 3);
  ASSERT_TRUE(s.open().is_ok());
  auto info = s.write(7, state("7"), false);
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  std::vector<std::string> warnings;
  auto latest = s.latest_valid(&warnings);
  ASSERT_TRUE(latest.is_ok());
  ASSERT_TRUE(latest.value().has_value());
  EXPECT_EQ(latest.value()->id, 7u);
  EXPECT_EQ(s.read_file(*latest.value(), "sources.json").value(), "{\"offset\": 7}");
  EXPECT_TRUE(warnings.empty());
}

TEST_F(CheckpointStorageTest, CorruptNewestCheckpointFallsBackToThePreviousOne) {
  CheckpointStorage s(dir_, 3);
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.write(1, state("1"), false).is_ok());
  auto newest = s.write(2, state("2"), false);
  ASSERT_TRUE(newest.is_ok());
  {  // flip bytes in the newest state file, keeping its size
    std::fstream f(newest.value().path + "/operator-1.state", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << "X";
  }
  std::vector<std::string> warnings;
  auto latest = s.latest_valid(&warnings);
  ASSERT_TRUE(latest.is_ok() && latest.value().has_value());
  EXPECT_EQ(latest.value()->id, 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("fails its checksum"), std::string::npos) << warnings[0];
}

TEST_F(CheckpointStorageTest, TruncatedFileOrMissingManifestIsSkipped) {
  CheckpointStorage s(dir_, 5);
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.write(1, state("1"), false).is_ok());
  auto two = s.write(2, state("2"), false);
  auto three = s.write(3, state("3"), false);
  fs::resize_file(three.value().path + "/sources.json", 3);
  fs::remove(two.value().path + "/MANIFEST");
  std::vector<std::string> warnings;
  auto latest = s.latest_valid(&warnings);
  ASSERT_TRUE(latest.value().has_value());
  EXPECT_EQ(latest.value()->id, 1u);
  EXPECT_EQ(warnings.size(), 2u);
}

TEST_F(CheckpointStorageTest, InterruptedWriteLeavesNothingVisible) {
  CheckpointStorage s(dir_, 3);
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.write(1, state("1"), false).is_ok());
  fs::create_directories(dir_ + "/.tmp-chk-00000000000000000002");  // a crash mid-write
  std::ofstream(dir_ + "/.tmp-chk-00000000000000000002/operator-1.state") << "partial";
  EXPECT_EQ(s.list(), (std::vector<uint64_t>{1}));
  CheckpointStorage reopened(dir_, 3);
  ASSERT_TRUE(reopened.open().is_ok());
  EXPECT_FALSE(fs::exists(dir_ + "/.tmp-chk-00000000000000000002"));
}

TEST_F(CheckpointStorageTest, RetentionKeepsTheNewestAndEverySavepoint) {
  CheckpointStorage s(dir_, 2);
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.write(1, state("1"), false).is_ok());
  ASSERT_TRUE(s.write(2, state("2"), true).is_ok());  // savepoint
  for (uint64_t id = 3; id <= 6; ++id) ASSERT_TRUE(s.write(id, state(std::to_string(id)), false).is_ok());
  EXPECT_EQ(s.list(), (std::vector<uint64_t>{2, 5, 6}));
  EXPECT_TRUE(s.verify(dir_ + "/chk-00000000000000000002").value().savepoint);
}

TEST_F(CheckpointStorageTest, RejectsDuplicateIdsAndBadFileNames) {
  CheckpointStorage s(dir_, 2);
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.write(1, state("1"), false).is_ok());
  EXPECT_FALSE(s.write(1, state("1"), false).is_ok());
  EXPECT_FALSE(s.write(2, {{"../escape", "x"}}, false).is_ok());
  EXPECT_FALSE(s.write(3, {{"MANIFEST", "x"}}, false).is_ok());
}

}  // namespace
}  // namespace sluice
