#include "checkpoint/checkpoint_storage.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

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
  // An immutable file outside the checkpoint directory, as a RocksDB SST would be.
  CheckpointFile linked(const std::string& name, const std::string& source, const std::string& contents) {
    fs::create_directories(dir_ + "/live");
    std::string path = dir_ + "/live/" + source;
    if (!fs::exists(path)) std::ofstream(path, std::ios::binary) << contents;
    CheckpointFile f;
    f.name = name;
    f.link_from = path;
    f.size = contents.size();
    f.checksum = checkpoint_checksum(contents);
    return f;
  }
  static struct stat stat_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st;
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
  EXPECT_FALSE(s.write(4, {{"a", "x"}, {"a", "y"}}, false).is_ok());
}

TEST_F(CheckpointStorageTest, ChecksumFileMatchesTheChecksumOfTheContents) {
  std::string big(3 * (1u << 20) + 17, '\0');  // crosses the streaming buffer boundaries
  std::mt19937_64 rng(7);
  for (auto& c : big) c = static_cast<char>(rng());
  for (const std::string& contents : {std::string(), std::string("abc"), big}) {
    std::string path = dir_ + "/f";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
    auto sum = checksum_file(path);
    ASSERT_TRUE(sum.is_ok()) << sum.status().message();
    EXPECT_EQ(sum.value(), checkpoint_checksum(contents)) << contents.size();
  }
  EXPECT_FALSE(checksum_file(dir_ + "/missing").is_ok());
}

TEST_F(CheckpointStorageTest, LinkedFileIsHardLinkedAndVerified) {
  CheckpointStorage s(dir_ + "/chk", 3);
  ASSERT_TRUE(s.open().is_ok());
  std::vector<CheckpointFile> files = state("1");
  files.push_back(linked("rocksdb.op.0.000007.sst", "000007.sst", "sst contents"));
  auto info = s.write(1, files, false);
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  std::string in_checkpoint = s.file_path(info.value(), "rocksdb.op.0.000007.sst");
  EXPECT_EQ(in_checkpoint, info.value().path + "/rocksdb.op.0.000007.sst");
  EXPECT_EQ(stat_of(in_checkpoint).st_ino, stat_of(dir_ + "/live/000007.sst").st_ino);
  auto verified = s.verify(info.value().path);
  ASSERT_TRUE(verified.is_ok()) << verified.status().message();
  EXPECT_EQ(verified.value().files.size(), 3u);
  EXPECT_EQ(s.read_file(verified.value(), "rocksdb.op.0.000007.sst").value(), "sst contents");
}

TEST_F(CheckpointStorageTest, CorruptLinkedFileFailsVerificationOfEveryCheckpointSharingIt) {
  CheckpointStorage s(dir_ + "/chk", 3);
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.write(1, {linked("a.sst", "a.sst", "shared bytes")}, false).is_ok());
  auto two = s.write(2, {linked("a.sst", "a.sst", "shared bytes")}, false);
  ASSERT_TRUE(two.is_ok());
  {  // same size, different bytes: only the checksum can tell
    std::fstream f(two.value().path + "/a.sst", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << "X";
  }
  std::vector<std::string> warnings;
  auto latest = s.latest_valid(&warnings);
  ASSERT_TRUE(latest.is_ok());
  EXPECT_FALSE(latest.value().has_value());
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("fails its checksum"), std::string::npos) << warnings[0];
}

TEST_F(CheckpointStorageTest, WrongCallerChecksumIsCaughtAtVerification) {
  CheckpointStorage s(dir_ + "/chk", 3);
  ASSERT_TRUE(s.open().is_ok());
  CheckpointFile f = linked("a.sst", "a.sst", "bytes");
  f.checksum ^= 1;
  auto info = s.write(1, {f}, false);
  ASSERT_TRUE(info.is_ok());
  auto verified = s.verify(info.value().path);
  ASSERT_FALSE(verified.is_ok());
  EXPECT_NE(verified.status().message().find("fails its checksum"), std::string::npos);
}

TEST_F(CheckpointStorageTest, WrongCallerSizeFailsTheWriteAndLeavesNothing) {
  CheckpointStorage s(dir_ + "/chk", 3);
  ASSERT_TRUE(s.open().is_ok());
  CheckpointFile f = linked("a.sst", "a.sst", "bytes");
  f.size = 4;
  EXPECT_FALSE(s.write(1, {f}, false).is_ok());
  CheckpointFile missing = linked("b.sst", "b.sst", "bytes");
  missing.link_from = dir_ + "/live/missing.sst";
  EXPECT_FALSE(s.write(2, {missing}, false).is_ok());
  CheckpointFile both = linked("c.sst", "c.sst", "bytes");
  both.data = "bytes";
  EXPECT_FALSE(s.write(3, {both}, false).is_ok());
  EXPECT_TRUE(s.list().empty());
  EXPECT_TRUE(fs::is_empty(dir_ + "/chk"));  // no temporary directory left behind
}

TEST_F(CheckpointStorageTest, RetentionDeletingACheckpointKeepsFilesSharedWithOthers) {
  CheckpointStorage s(dir_ + "/chk", 2);
  ASSERT_TRUE(s.open().is_ok());
  const std::string source = dir_ + "/live/shared.sst";
  for (uint64_t id = 1; id <= 3; ++id) {
    std::vector<CheckpointFile> files = state(std::to_string(id));
    files.push_back(linked("shared.sst", "shared.sst", "immutable"));
    ASSERT_TRUE(s.write(id, files, false).is_ok());
  }
  EXPECT_EQ(s.list(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(stat_of(source).st_nlink, 3u);  // the source and the two retained checkpoints
  fs::remove(source);                       // the live database dropping its SST
  for (uint64_t id : {2, 3}) {
    auto info = s.verify(dir_ + "/chk/chk-0000000000000000000" + std::to_string(id));
    ASSERT_TRUE(info.is_ok()) << info.status().message();
    EXPECT_EQ(s.read_file(info.value(), "shared.sst").value(), "immutable");
  }
}

TEST_F(CheckpointStorageTest, LinkAcrossFileSystemsFallsBackToACopy) {
  struct stat tmp_st {}, shm_st {};
  if (::stat(dir_.c_str(), &tmp_st) != 0 || ::stat("/dev/shm", &shm_st) != 0 || tmp_st.st_dev == shm_st.st_dev) {
    GTEST_SKIP() << "no second file system to link across";
  }
  std::string tmpl = "/dev/shm/sluice-chk-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  std::string source = tmpl + "/x.sst";
  std::ofstream(source, std::ios::binary) << "copied";
  CheckpointFile f;
  f.name = "x.sst";
  f.link_from = source;
  f.size = 6;
  f.checksum = checkpoint_checksum("copied");
  CheckpointStorage s(dir_ + "/chk", 2);
  ASSERT_TRUE(s.open().is_ok());
  auto info = s.write(1, {f}, false);
  fs::remove_all(tmpl);
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  EXPECT_TRUE(s.verify(info.value().path).is_ok());
}

TEST_F(CheckpointStorageTest, AFileNamedSavepointDoesNotMakeACheckpointASavepoint) {
  CheckpointStorage s(dir_, 1);
  ASSERT_TRUE(s.open().is_ok());
  ASSERT_TRUE(s.write(1, {{"savepoint", "x"}}, false).is_ok());
  ASSERT_TRUE(s.write(2, state("2"), false).is_ok());
  EXPECT_EQ(s.list(), (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace sluice
