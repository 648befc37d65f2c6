#include "state/state_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/hash.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// (key group, key) -> value: what a restore must give back.
using Model = std::map<std::pair<int, std::string>, std::string>;

int key_group_of_key(const std::string& key) { return key_group_of(hash_string(key)); }

// Entries "key-<n>" for n in [begin, end) that instance `instance` of `parallelism` owns.
Model entries_of(int instance, int parallelism, int begin, int end, const std::string& value_tag = "v") {
  Model m;
  for (int n = begin; n < end; ++n) {
    std::string key = "key-" + std::to_string(n);
    int kg = key_group_of_key(key);
    if (instance_of_key_group(kg, parallelism) == instance) m[{kg, key}] = value_tag + std::to_string(n);
  }
  return m;
}

Model merged(const std::vector<Model>& parts) {
  Model all;
  for (const auto& p : parts) all.insert(p.begin(), p.end());
  return all;
}

class StateBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sluice-state-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    work_dir_ = dir_ + "/work";
    storage_ = std::make_unique<CheckpointStorage>(dir_ + "/chk", 10);
    ASSERT_TRUE(storage_->open().is_ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<StateBackend> backend(const std::string& kind) {
    auto b = make_state_backend(kind, work_dir_);
    EXPECT_TRUE(b.is_ok()) << b.status().message();
    return b.is_ok() ? std::move(b).value() : nullptr;
  }
  std::unique_ptr<InstanceStateStore> open(StateBackend& b, const std::string& op, int instance) {
    auto s = b.open_instance(op, instance);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    return s.is_ok() ? std::move(s).value() : nullptr;
  }

  // Snapshots `store`, putting every entry of `puts`, removing `removes`, and the blob.
  std::vector<CheckpointFile> snapshot(InstanceStateStore& store, uint64_t id, const Model& puts,
                                       const Model& removes = {}, const std::string* blob = nullptr,
                                       bool* incremental = nullptr) {
    std::vector<CheckpointFile> files;
    Status s = store.snapshot(
        id,
        [&](StateWriter& w) {
          if (incremental) *incremental = w.incremental();
          for (const auto& [k, v] : puts) w.put(k.first, k.second, v);
          for (const auto& [k, v] : removes) w.remove(k.first, k.second);
          if (blob) w.put_instance_state(*blob);
          return Status::ok();
        },
        &files);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return files;
  }

  // Writes a checkpoint and reads it back as a restoring job would (verified).
  CheckpointInfo write(uint64_t id, const std::vector<CheckpointFile>& files) {
    auto written = storage_->write(id, files, false);
    EXPECT_TRUE(written.is_ok()) << written.status().message();
    auto verified = storage_->verify(written.value().path);
    EXPECT_TRUE(verified.is_ok()) << verified.status().message();
    return verified.value();
  }

  std::unique_ptr<StateRestore> restore(const CheckpointInfo& info, const std::string& op, int old_parallelism) {
    auto r = open_state_restore(*storage_, info, op, old_parallelism, work_dir_);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return r.is_ok() ? std::move(r).value() : nullptr;
  }

  static Model scan(StateRestore& r, int kg_begin, int kg_end) {
    Model m;
    Status s = r.scan(kg_begin, kg_end, [&](int kg, std::string_view key, std::string_view value) {
      EXPECT_GE(kg, kg_begin);
      EXPECT_LT(kg, kg_end);
      EXPECT_EQ(kg, key_group_of_key(std::string(key)));
      bool inserted = m.emplace(std::make_pair(kg, std::string(key)), std::string(value)).second;
      EXPECT_TRUE(inserted) << "duplicate key " << key;
      return Status::ok();
    });
    EXPECT_TRUE(s.is_ok()) << s.message();
    return m;
  }
  static Model scan_all(StateRestore& r) { return scan(r, 0, kNumKeyGroups); }

  static ino_t inode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  }

  // Snapshots old instances 0..1 of "agg" (parallelism 2) into checkpoint `id`.
  CheckpointInfo two_instance_checkpoint(StateBackend& b, uint64_t id, std::vector<Model>* parts) {
    std::vector<std::unique_ptr<InstanceStateStore>> stores;  // open until written: linked files must exist
    std::vector<CheckpointFile> files;
    for (int i = 0; i < 2; ++i) {
      parts->push_back(entries_of(i, 2, 0, 2000));
      stores.push_back(open(b, "agg", i));
      std::string blob = "blob-" + std::to_string(i);
      auto f = snapshot(*stores.back(), id, parts->back(), {}, &blob);
      files.insert(files.end(), f.begin(), f.end());
    }
    return write(id, files);
  }

  std::string dir_;
  std::string work_dir_;
  std::unique_ptr<CheckpointStorage> storage_;
};

class EveryBackendTest : public StateBackendTest, public ::testing::WithParamInterface<std::string> {};

TEST(KeyGroupRangeTest, IsTheInverseOfInstanceOfKeyGroup) {
  for (int p = 1; p <= 300; ++p) {
    int next = 0;
    for (int i = 0; i < p; ++i) {
      auto [begin, end] = key_group_range(i, p);
      EXPECT_EQ(begin, next) << "p=" << p << " i=" << i;  // contiguous, in order
      for (int kg = begin; kg < end; ++kg) EXPECT_EQ(instance_of_key_group(kg, p), i) << "p=" << p << " kg=" << kg;
      next = end;
    }
    EXPECT_EQ(next, kNumKeyGroups) << "p=" << p;
  }
}

TEST_F(StateBackendTest, UnknownBackendAndBadOperatorIdsAreRejected) {
  EXPECT_FALSE(make_state_backend("leveldb", work_dir_).is_ok());
  EXPECT_FALSE(make_state_backend("rocksdb", "").is_ok());
  for (const char* kind : {"memory", "rocksdb"}) {
    auto b = backend(kind);
    EXPECT_EQ(b->name(), kind);
    EXPECT_FALSE(b->open_instance("a/b", 0).is_ok());
    EXPECT_FALSE(b->open_instance("", 0).is_ok());
    EXPECT_FALSE(b->open_instance("agg", -1).is_ok());
  }
}

TEST_P(EveryBackendTest, RestoresAtTheSameParallelism) {
  auto b = backend(GetParam());
  std::vector<Model> parts;
  CheckpointInfo info = two_instance_checkpoint(*b, 1, &parts);
  for (int i = 0; i < 2; ++i) {
    auto r = restore(info, "agg", 2);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->old_parallelism(), 2);
    EXPECT_EQ(r->instance_states(), (std::vector<std::string>{"blob-0", "blob-1"}));
    auto [begin, end] = key_group_range(i, 2);
    EXPECT_EQ(scan(*r, begin, end), parts[static_cast<size_t>(i)]);
  }
}

TEST_P(EveryBackendTest, RescaleFromTwoToThreeGivesEachInstanceExactlyItsKeyGroups) {
  auto b = backend(GetParam());
  std::vector<Model> parts;
  CheckpointInfo info = two_instance_checkpoint(*b, 1, &parts);
  Model all = merged(parts);
  ASSERT_GT(all.size(), 1000u);
  Model united;
  for (int i = 0; i < 3; ++i) {
    auto r = restore(info, "agg", 2);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->instance_states(), (std::vector<std::string>{"blob-0", "blob-1"}));
    auto [begin, end] = key_group_range(i, 3);
    Model mine = scan(*r, begin, end);
    Model expected;
    for (const auto& [k, v] : all) {
      if (instance_of_key_group(k.first, 3) == i) expected[k] = v;
    }
    EXPECT_EQ(mine, expected) << "new instance " << i;
    united.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(united, all);
}

TEST_P(EveryBackendTest, OperatorWithoutStateRestoresAsNull) {
  auto b = backend(GetParam());
  std::vector<Model> parts;
  CheckpointInfo info = two_instance_checkpoint(*b, 1, &parts);
  auto r = open_state_restore(*storage_, info, "new-operator", 2, work_dir_);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), nullptr);
  // "ag" is a prefix of "agg": names are matched exactly.
  EXPECT_EQ(open_state_restore(*storage_, info, "ag", 2, work_dir_).value(), nullptr);
}

TEST_P(EveryBackendTest, OperatorIdsWithDotsAreNotConfused) {
  auto b = backend(GetParam());
  auto a = open(*b, "a", 1);
  auto a1 = open(*b, "a.1", 0);
  Model of_a = entries_of(0, 1, 0, 50, "a");
  Model of_a1 = entries_of(0, 1, 50, 100, "a.1");
  auto files = snapshot(*a, 1, of_a);
  auto more = snapshot(*a1, 1, of_a1);
  files.insert(files.end(), more.begin(), more.end());
  CheckpointInfo info = write(1, files);
  auto ra = restore(info, "a", 2);  // instance 0 wrote nothing, instance 1 wrote of_a
  ASSERT_NE(ra, nullptr);
  EXPECT_EQ(scan_all(*ra), of_a);
  EXPECT_EQ(ra->instance_states(), (std::vector<std::string>{"", ""}));
  auto ra1 = restore(info, "a.1", 1);
  ASSERT_NE(ra1, nullptr);
  EXPECT_EQ(scan_all(*ra1), of_a1);
}

TEST_P(EveryBackendTest, EmptySnapshotRestoresOnlyTheInstanceState) {
  auto b = backend(GetParam());
  auto store = open(*b, "agg", 0);
  std::string blob("\0binary\xff", 8);
  CheckpointInfo info = write(1, snapshot(*store, 1, {}, {}, &blob));
  auto r = restore(info, "agg", 1);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(scan_all(*r).empty());
  EXPECT_EQ(r->instance_states(), std::vector<std::string>{blob});
}

TEST_P(EveryBackendTest, KeyGroupOutOfRangeFailsTheSnapshot) {
  auto b = backend(GetParam());
  auto store = open(*b, "agg", 0);
  for (int bad : {-1, kNumKeyGroups}) {
    std::vector<CheckpointFile> files;
    Status s = store->snapshot(
        1,
        [&](StateWriter& w) {
          w.put(bad, "k", "v");
          return Status::ok();
        },
        &files);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
  }
}

TEST_P(EveryBackendTest, FillErrorFailsTheSnapshot) {
  auto b = backend(GetParam());
  auto store = open(*b, "agg", 0);
  std::vector<CheckpointFile> files;
  Status s = store->snapshot(1, [](StateWriter&) { return io_error("operator broke"); }, &files);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_TRUE(files.empty());
}

TEST_P(EveryBackendTest, CorruptStateFileFailsVerification) {
  auto b = backend(GetParam());
  auto store = open(*b, "agg", 0);
  CheckpointInfo info = write(1, snapshot(*store, 1, entries_of(0, 1, 0, 500)));
  store.reset();
  std::string victim;
  for (const auto& f : info.files) {
    if (f.rfind("state.", 0) == 0 || f.find(".sst") != std::string::npos) victim = f;
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(storage_->file_path(info, victim), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(20);
    char c = 0;
    f.read(&c, 1);
    f.seekp(20);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  auto verified = storage_->verify(info.path);
  ASSERT_FALSE(verified.is_ok());
  EXPECT_NE(verified.status().message().find("fails its checksum"), std::string::npos) << verified.status().message();
  std::vector<std::string> warnings;
  EXPECT_FALSE(storage_->latest_valid(&warnings).value().has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, EveryBackendTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

TEST_F(StateBackendTest, MemorySnapshotsAreNeverIncremental) {
  auto b = backend("memory");
  auto store = open(*b, "agg", 0);
  bool incremental = true;
  snapshot(*store, 1, entries_of(0, 1, 0, 10), {}, nullptr, &incremental);
  EXPECT_FALSE(incremental);
  snapshot(*store, 2, entries_of(0, 1, 0, 10), {}, nullptr, &incremental);
  EXPECT_FALSE(incremental);
}

TEST_F(StateBackendTest, RocksDbIncrementalSnapshotMergesWithThePreviousAndSharesSsts) {
  auto b = backend("rocksdb");
  auto store = open(*b, "agg", 0);
  Model first = entries_of(0, 1, 0, 3000);
  std::string blob = "offsets-1";
  bool incremental = true;
  CheckpointInfo one = write(1, snapshot(*store, 1, first, {}, &blob, &incremental));
  EXPECT_FALSE(incremental) << "the first snapshot of a fresh database is full";

  Model puts = entries_of(0, 1, 3000, 3010);  // new keys
  for (const auto& [k, v] : entries_of(0, 1, 0, 5, "changed")) puts[k] = v;  // overwritten keys
  Model removes = entries_of(0, 1, 100, 105);
  CheckpointInfo two = write(2, snapshot(*store, 2, puts, removes, nullptr, &incremental));
  EXPECT_TRUE(incremental);

  Model expected = first;
  for (const auto& [k, v] : puts) expected[k] = v;
  for (const auto& [k, v] : removes) expected.erase(k);
  auto r2 = restore(two, "agg", 1);
  ASSERT_NE(r2, nullptr);
  EXPECT_EQ(scan_all(*r2), expected);
  EXPECT_EQ(r2->instance_states(), std::vector<std::string>{"offsets-1"}) << "kept when not replaced";
  auto r1 = restore(one, "agg", 1);
  EXPECT_EQ(scan_all(*r1), first) << "the older checkpoint is unaffected";

  // The SST of the first snapshot is in the second checkpoint as the same inode.
  int shared = 0;
  for (const auto& name : one.files) {
    if (name.find(".sst") == std::string::npos) continue;
    ASSERT_NE(std::find(two.files.begin(), two.files.end(), name), two.files.end()) << name;
    EXPECT_EQ(inode_of(storage_->file_path(one, name)), inode_of(storage_->file_path(two, name))) << name;
    ++shared;
  }
  EXPECT_GE(shared, 1);
  EXPECT_GT(two.files.size(), one.files.size()) << "the delta adds an SST";
}

TEST_F(StateBackendTest, RocksDbSnapshotAfterMarkRestoredIsFull) {
  auto b = backend("rocksdb");
  auto store = open(*b, "agg", 0);
  snapshot(*store, 1, entries_of(0, 1, 0, 100));
  store->mark_restored();
  bool incremental = true;
  Model second = entries_of(0, 1, 100, 200);
  CheckpointInfo info = write(2, snapshot(*store, 2, second, {}, nullptr, &incremental));
  EXPECT_FALSE(incremental);
  auto r = restore(info, "agg", 1);
  EXPECT_EQ(scan_all(*r), second) << "entries of the first snapshot are gone";
  // The snapshot after a full one is incremental again.
  snapshot(*store, 3, {}, {}, nullptr, &incremental);
  EXPECT_TRUE(incremental);
}

TEST_F(StateBackendTest, RocksDbSnapshotAfterAFailedOneIsFull) {
  auto b = backend("rocksdb");
  auto store = open(*b, "agg", 0);
  snapshot(*store, 1, entries_of(0, 1, 0, 10));
  std::vector<CheckpointFile> files;
  Status s = store->snapshot(
      2,
      [](StateWriter& w) {
        w.put(3, "half", "written");
        return io_error("operator broke");
      },
      &files);
  EXPECT_FALSE(s.is_ok());
  bool incremental = true;
  Model third = entries_of(0, 1, 20, 30);
  CheckpointInfo info = write(3, snapshot(*store, 3, third, {}, nullptr, &incremental));
  EXPECT_FALSE(incremental);
  EXPECT_EQ(scan_all(*restore(info, "agg", 1)), third);
}

TEST_F(StateBackendTest, RocksDbLargeFullSnapshotSpansSeveralWriteBatches) {
  auto b = backend("rocksdb");
  auto store = open(*b, "agg", 0);
  Model big;
  const std::string padding(1000, 'x');
  for (const auto& [k, v] : entries_of(0, 1, 0, 12000)) big[k] = v + padding;  // ~12 MiB
  CheckpointInfo info = write(1, snapshot(*store, 1, big));
  EXPECT_EQ(scan_all(*restore(info, "agg", 1)), big);
}

TEST_F(StateBackendTest, RocksDbWorkingDirectoriesAreWipedAndCleanedUp) {
  auto b = backend("rocksdb");
  fs::create_directories(work_dir_ + "/agg.0/db");
  std::ofstream(work_dir_ + "/agg.0/db/CURRENT") << "garbage from a crashed run";
  fs::create_directories(work_dir_ + "/restore-abc123");  // an interrupted restore
  backend("memory");                                       // any job may restore RocksDB state
  EXPECT_FALSE(fs::exists(work_dir_ + "/restore-abc123"));
  auto store = open(*b, "agg", 0);
  CheckpointInfo info = write(1, snapshot(*store, 1, entries_of(0, 1, 0, 10)));
  EXPECT_EQ(scan_all(*restore(info, "agg", 1)).size(), entries_of(0, 1, 0, 10).size());
  store.reset();
  EXPECT_TRUE(fs::is_empty(work_dir_)) << "no instance or restore directory left";
  EXPECT_TRUE(storage_->verify(info.path).is_ok()) << "the checkpoint owns its links";
}

TEST_F(StateBackendTest, MemoryCheckpointRestoresIntoARocksDbJobAndBack) {
  std::vector<Model> parts;
  CheckpointInfo from_memory = two_instance_checkpoint(*backend("memory"), 1, &parts);
  Model all = merged(parts);

  // The job now runs with rocksdb at parallelism 3: each instance restores its key groups,
  // then re-puts them in its first (full) snapshot.
  auto rocks = backend("rocksdb");
  std::vector<std::unique_ptr<InstanceStateStore>> stores;
  std::vector<CheckpointFile> files;
  for (int i = 0; i < 3; ++i) {
    auto r = restore(from_memory, "agg", 2);
    ASSERT_NE(r, nullptr);
    auto [begin, end] = key_group_range(i, 3);
    Model mine = scan(*r, begin, end);
    stores.push_back(open(*rocks, "agg", i));
    stores.back()->mark_restored();
    bool incremental = true;
    std::string blob = r->instance_states()[0] + "+" + r->instance_states()[1];
    auto f = snapshot(*stores.back(), 2, mine, {}, &blob, &incremental);
    EXPECT_FALSE(incremental);
    files.insert(files.end(), f.begin(), f.end());
  }
  CheckpointInfo from_rocksdb = write(2, files);
  stores.clear();

  auto r = restore(from_rocksdb, "agg", 3);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(scan_all(*r), all);
  EXPECT_EQ(r->instance_states(), std::vector<std::string>(3, "blob-0+blob-1"));

  // And back to memory at parallelism 1.
  auto memory = backend("memory");
  auto store = open(*memory, "agg", 0);
  CheckpointInfo back = write(3, snapshot(*store, 3, scan_all(*r)));
  EXPECT_EQ(scan_all(*restore(back, "agg", 1)), all);
}

}  // namespace
}  // namespace sluice
