// Specification of the file sink with checkpoints: the two-phase commit of sink.h with one
// part file per checkpoint (file_sink.h). A crash is simulated by destroying the writer
// without committing and recovering with a new one.
#include <filesystem>

#include "common/serde.h"
#include "connectors/file/file_sink.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::read_file;
using testing::sink_spec;
using testing::TempDir;
using testing::write_file;

SchemaPtr schema() { return make_schema({{"id", TypeId::kInt64}, {"name", TypeId::kString}}); }

RecordBatch batch(std::vector<std::pair<int64_t, std::string>> rows, std::vector<RowKind> kinds = {}) {
  RecordBatch b(schema());
  for (auto& [id, name] : rows) {
    b.mutable_column(0).append_int(id);
    b.mutable_column(1).append_string(name);
  }
  b.sync_num_rows();
  b.row_kinds = std::move(kinds);
  return b;
}

std::string json(int64_t id, const std::string& name) {
  return fmt::format("{{\"id\":{},\"name\":\"{}\"}}\n", id, name);
}

// The names in `dir`, sorted.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class FileSinkTransactionTest : public ::testing::Test {
 protected:
  std::unique_ptr<SinkWriter> writer(std::map<std::string, std::string> options = {}) {
    options.emplace("path", path_);
    auto f = make_sink_factory(sink_spec("file", std::move(options), schema()));
    EXPECT_TRUE(f.is_ok()) << f.status().message();
    if (!f.is_ok()) return nullptr;
    auto w = std::move(f.value()->create_writer()).value();
    Status s = w->open();
    EXPECT_TRUE(s.is_ok()) << s.message();
    return w;
  }
  // A writer in transactional mode, resumed from checkpoint `restored_id`.
  std::unique_ptr<SinkWriter> recovered(uint64_t restored_id, const std::string& state,
                                        std::map<std::string, std::string> options = {}) {
    auto w = writer(std::move(options));
    Status s = w->recover(identity_, restored_id, state);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return w;
  }
  std::string pre_commit(SinkWriter& w, uint64_t id) {
    auto state = w.pre_commit(id);
    EXPECT_TRUE(state.is_ok()) << state.status().message();
    return state.is_ok() ? state.value() : std::string();
  }
  std::string part(uint64_t id, const std::string& ext = ".jsonl") const {
    return dir_.file(fmt::format("out.part-{:010}{}", id, ext));
  }

  TempDir dir_;
  std::string path_ = dir_.file("out.jsonl");
  // A job whose checkpoint directory is new (new_job): parts found are an earlier run's.
  SinkIdentity identity_ = [] {
    SinkIdentity id = testing::test_sink_identity();
    id.new_job = true;
    return id;
  }();
};

TEST_F(FileSinkTransactionTest, RowsBecomeVisibleOnlyWhenTheirCheckpointCommits) {
  auto w = recovered(0, "");
  ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
  ASSERT_TRUE(w->flush().is_ok());
  EXPECT_EQ(files_in(dir_.file("")), (std::vector<std::string>{".out.inprogress.jsonl"}));
  pre_commit(*w, 1);
  ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
  pre_commit(*w, 2);
  ASSERT_TRUE(w->commit(1).is_ok());
  EXPECT_EQ(files_in(dir_.file("")),
            (std::vector<std::string>{".out.part-0000000002.jsonl.pending", "out.part-0000000001.jsonl"}));
  EXPECT_EQ(read_file(part(1)), json(1, "a"));
  ASSERT_TRUE(w->commit(2).is_ok());
  ASSERT_TRUE(w->commit(2).is_ok());  // idempotent
  EXPECT_EQ(read_file(part(2)), json(2, "b"));
  ASSERT_TRUE(w->close().is_ok());
  EXPECT_FALSE(std::filesystem::exists(path_));  // `path` itself is not written with checkpoints
}

TEST_F(FileSinkTransactionTest, RecoveryCommitsTheRestoredCheckpointAndDropsLaterRows) {
  std::string state2;
  {
    auto w = recovered(0, "");
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    pre_commit(*w, 1);
    ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
    state2 = pre_commit(*w, 2);
    ASSERT_TRUE(w->commit(1).is_ok());
    ASSERT_TRUE(w->write(batch({{3, "c"}})).is_ok());
    ASSERT_TRUE(w->flush().is_ok());
  }  // crash: checkpoint 2 is durable, its commit never came; row 3 belongs to no checkpoint
  // What a crash of the process would leave besides: the in-progress rows and the pending
  // part of checkpoint 3, which never became durable.
  write_file(dir_.file(".out.inprogress.jsonl"), json(3, "c"));
  write_file(dir_.file(".out.part-0000000003.jsonl.pending"), json(3, "c"));

  auto w = recovered(2, state2);
  EXPECT_EQ(files_in(dir_.file("")),
            (std::vector<std::string>{"out.part-0000000001.jsonl", "out.part-0000000002.jsonl"}));
  EXPECT_EQ(read_file(part(1)) + read_file(part(2)), json(1, "a") + json(2, "b"));
  ASSERT_TRUE(w->write(batch({{3, "c"}})).is_ok());  // the resumed job writes row 3 again
  pre_commit(*w, 3);
  ASSERT_TRUE(w->commit(3).is_ok());
  EXPECT_EQ(read_file(part(1)) + read_file(part(2)) + read_file(part(3)),
            json(1, "a") + json(2, "b") + json(3, "c"));
}

TEST_F(FileSinkTransactionTest, RecoveringAnAlreadyCommittedCheckpointDuplicatesNothing) {
  std::string state1;
  {
    auto w = recovered(0, "");
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    state1 = pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
  }
  auto w = recovered(1, state1);
  EXPECT_EQ(files_in(dir_.file("")), (std::vector<std::string>{"out.part-0000000001.jsonl"}));
  EXPECT_EQ(read_file(part(1)), json(1, "a"));
}

// The job resumes from checkpoint 1 although checkpoints 2 and 3 were committed (the newest
// was corrupt, or --from-savepoint an older one): their parts are rolled back, and the
// replayed rows come again under new ids.
TEST_F(FileSinkTransactionTest, RecoveryToAnOlderCheckpointRollsBackTheNewerCommittedParts) {
  std::string state1;
  {
    auto w = recovered(0, "");
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    state1 = pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
    ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
    pre_commit(*w, 2);
    ASSERT_TRUE(w->commit(2).is_ok());
    ASSERT_TRUE(w->write(batch({{3, "c"}})).is_ok());
    pre_commit(*w, 3);
    ASSERT_TRUE(w->commit(3).is_ok());
  }
  auto w = recovered(1, state1);
  EXPECT_EQ(files_in(dir_.file("")), (std::vector<std::string>{"out.part-0000000001.jsonl"}));
  EXPECT_EQ(read_file(part(1)), json(1, "a"));
  ASSERT_TRUE(w->write(batch({{2, "b"}, {3, "c"}})).is_ok());  // the replay
  pre_commit(*w, 4);
  ASSERT_TRUE(w->commit(4).is_ok());
  EXPECT_EQ(files_in(dir_.file("")),
            (std::vector<std::string>{"out.part-0000000001.jsonl", "out.part-0000000004.jsonl"}));
  EXPECT_EQ(read_file(part(1)) + read_file(part(4)), json(1, "a") + json(2, "b") + json(3, "c"));
}

TEST_F(FileSinkTransactionTest, RollbackKeepsTheCsvHeaderInTheFirstRemainingPart) {
  path_ = dir_.file("out.csv");
  std::string state1;
  {
    auto w = recovered(0, "", {{"format", "csv"}});
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    state1 = pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
    ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
    pre_commit(*w, 2);
    ASSERT_TRUE(w->write(batch({{3, "c"}})).is_ok());
    pre_commit(*w, 3);
    ASSERT_TRUE(w->commit(3).is_ok());
  }
  auto w = recovered(1, state1, {{"format", "csv"}});
  ASSERT_TRUE(w->write(batch({{2, "b"}, {3, "c"}})).is_ok());
  pre_commit(*w, 4);
  ASSERT_TRUE(w->commit(4).is_ok());
  EXPECT_EQ(files_in(dir_.file("")),
            (std::vector<std::string>{"out.part-0000000001.csv", "out.part-0000000004.csv"}));
  EXPECT_EQ(read_file(part(1, ".csv")), "id,name\n1,a\n");
  EXPECT_EQ(read_file(part(4, ".csv")), "2,b\n3,c\n");
}

// The rolled-back part held the header: the next part written is the first one again.
TEST_F(FileSinkTransactionTest, RollbackOfThePartWithTheCsvHeaderMovesTheHeaderToTheNextPart) {
  path_ = dir_.file("out.csv");
  std::string state1;
  {
    auto w = recovered(0, "", {{"format", "csv"}});
    state1 = pre_commit(*w, 1);  // no rows: no part
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    pre_commit(*w, 2);
    ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
    pre_commit(*w, 3);
    ASSERT_TRUE(w->commit(3).is_ok());
  }
  EXPECT_EQ(read_file(part(2, ".csv")), "id,name\n1,a\n");
  auto w = recovered(1, state1, {{"format", "csv"}});
  EXPECT_TRUE(files_in(dir_.file("")).empty());
  ASSERT_TRUE(w->write(batch({{1, "a"}, {2, "b"}})).is_ok());
  pre_commit(*w, 4);
  ASSERT_TRUE(w->commit(4).is_ok());
  EXPECT_EQ(files_in(dir_.file("")), (std::vector<std::string>{"out.part-0000000004.csv"}));
  EXPECT_EQ(read_file(part(4, ".csv")), "id,name\n1,a\n2,b\n");
}

TEST_F(FileSinkTransactionTest, AnAbortedCheckpointIsCommittedWithTheNextOne) {
  std::string state2;
  {
    auto w = recovered(0, "");
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    pre_commit(*w, 1);  // checkpoint 1 never completes: no commit(1)
    ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
    state2 = pre_commit(*w, 2);
  }
  auto w = recovered(2, state2);
  EXPECT_EQ(read_file(part(1)) + read_file(part(2)), json(1, "a") + json(2, "b"));
}

TEST_F(FileSinkTransactionTest, CommitCoversEveryEarlierPendingPart) {
  auto w = recovered(0, "");
  ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
  pre_commit(*w, 1);
  ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
  pre_commit(*w, 2);
  ASSERT_TRUE(w->commit(2).is_ok());
  EXPECT_EQ(files_in(dir_.file("")),
            (std::vector<std::string>{"out.part-0000000001.jsonl", "out.part-0000000002.jsonl"}));
}

TEST_F(FileSinkTransactionTest, ACheckpointWithoutRowsLeavesNoPart) {
  auto w = recovered(0, "");
  std::string state1 = pre_commit(*w, 1);
  ASSERT_TRUE(w->write(batch({})).is_ok());
  pre_commit(*w, 2);
  ASSERT_TRUE(w->commit(2).is_ok());
  EXPECT_TRUE(files_in(dir_.file("")).empty());
  auto again = recovered(1, state1);  // an empty checkpoint state recovers too
  EXPECT_TRUE(files_in(dir_.file("")).empty());
}

TEST_F(FileSinkTransactionTest, FreshStartRemovesLeftoversAndTheOutputOfEarlierRuns) {
  write_file(path_, "plain file of a run without checkpoints\n");
  write_file(part(5), json(5, "old"));
  write_file(dir_.file(".out.part-0000000006.jsonl.pending"), json(6, "old"));
  write_file(dir_.file(".out.inprogress.jsonl"), json(7, "old"));
  write_file(dir_.file("out2.part-0000000001.jsonl"), json(1, "another sink"));
  auto w = recovered(0, "");
  EXPECT_EQ(files_in(dir_.file("")), (std::vector<std::string>{"out.jsonl", "out2.part-0000000001.jsonl"}));
  EXPECT_EQ(read_file(path_), "plain file of a run without checkpoints\n");
}

TEST_F(FileSinkTransactionTest, AppendModeKeepsEarlierPartsOnRecoveryButRefusesAFreshStartOverThem) {
  std::string state1;
  {
    auto w = recovered(0, "", {{"mode", "append"}});
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    state1 = pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
  }
  auto resumed = recovered(1, state1, {{"mode", "append"}});
  EXPECT_EQ(read_file(part(1)), json(1, "a"));
  resumed.reset();

  auto fresh = writer({{"mode", "append"}});
  Status s = fresh->recover(identity_, 0, "");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("already holds parts of an earlier run"), std::string::npos) << s.message();
  EXPECT_EQ(read_file(part(1)), json(1, "a"));
}

// Issue 9 point 6: the job committed parts, then lost every checkpoint (its checkpoint
// directory, hence its job id, remains): a fresh start would write their rows again.
TEST_F(FileSinkTransactionTest, FreshStartOverPartsThisJobCommittedIsRefused) {
  {
    auto w = recovered(0, "");
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
  }
  identity_.new_job = false;
  auto again = writer();
  Status s = again->recover(identity_, 0, "");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("up to checkpoint 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--start-over"), std::string::npos) << s.message();
  EXPECT_EQ(read_file(part(1)), json(1, "a"));

  identity_.start_over = true;  // --start-over: the parts go, the job starts from the beginning
  auto over = writer();
  ASSERT_TRUE(over->recover(identity_, 0, "").is_ok());
  EXPECT_FALSE(std::filesystem::exists(part(1)));
}

TEST_F(FileSinkTransactionTest, CsvHeaderIsOnlyInTheFirstPart) {
  path_ = dir_.file("out.csv");
  std::string state2;
  {
    auto w = recovered(0, "", {{"format", "csv"}});
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
    ASSERT_TRUE(w->write(batch({{2, "b"}})).is_ok());
    state2 = pre_commit(*w, 2);
  }
  auto w = recovered(2, state2, {{"format", "csv"}});
  ASSERT_TRUE(w->write(batch({{3, "c"}})).is_ok());
  pre_commit(*w, 3);
  ASSERT_TRUE(w->commit(3).is_ok());
  EXPECT_EQ(read_file(part(1, ".csv")), "id,name\n1,a\n");
  EXPECT_EQ(read_file(part(2, ".csv")), "2,b\n");
  EXPECT_EQ(read_file(part(3, ".csv")), "3,c\n");
}

TEST_F(FileSinkTransactionTest, CsvHeaderGoesToTheFirstPartWithRows) {
  path_ = dir_.file("out.csv");
  auto w = recovered(0, "", {{"format", "csv"}});
  pre_commit(*w, 1);
  ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
  pre_commit(*w, 2);
  ASSERT_TRUE(w->commit(2).is_ok());
  EXPECT_EQ(read_file(part(2, ".csv")), "id,name\n1,a\n");
}

TEST_F(FileSinkTransactionTest, ChangelogPartsCarryTheOpOfEveryRow) {
  auto w = recovered(0, "", {{"changelog", "true"}});
  ASSERT_TRUE(w->write(batch({{1, "a"}, {1, "a"}, {1, "b"}},
                             {RowKind::kInsert, RowKind::kUpdateBefore, RowKind::kUpdateAfter}))
                  .is_ok());
  pre_commit(*w, 1);
  ASSERT_TRUE(w->commit(1).is_ok());
  EXPECT_EQ(read_file(part(1)),
            "{\"op\":\"+I\",\"id\":1,\"name\":\"a\"}\n{\"op\":\"-U\",\"id\":1,\"name\":\"a\"}\n"
            "{\"op\":\"+U\",\"id\":1,\"name\":\"b\"}\n");
}

TEST_F(FileSinkTransactionTest, APathWithoutExtensionGetsPartSuffixes) {
  path_ = dir_.file("out");
  auto w = recovered(0, "");
  ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
  EXPECT_TRUE(std::filesystem::exists(dir_.file(".out.inprogress")));
  pre_commit(*w, 1);
  EXPECT_TRUE(std::filesystem::exists(dir_.file(".out.part-0000000001.pending")));
  ASSERT_TRUE(w->commit(1).is_ok());
  EXPECT_EQ(files_in(dir_.file("")), (std::vector<std::string>{"out.part-0000000001"}));
}

TEST_F(FileSinkTransactionTest, WithoutRecoverPreCommitJustFlushesThePlainFile) {
  auto w = writer();
  ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
  auto state = w->pre_commit(1);
  ASSERT_TRUE(state.is_ok());
  EXPECT_EQ(state.value(), "");
  EXPECT_EQ(read_file(path_), json(1, "a"));
  ASSERT_TRUE(w->commit(1).is_ok());
  EXPECT_EQ(files_in(dir_.file("")), (std::vector<std::string>{"out.jsonl"}));
}

TEST_F(FileSinkTransactionTest, ALostPendingPartOfTheRestoredCheckpointIsDataLoss) {
  std::string state1;
  {
    auto w = recovered(0, "");
    ASSERT_TRUE(w->write(batch({{1, "a"}})).is_ok());
    state1 = pre_commit(*w, 1);
  }
  std::filesystem::remove(dir_.file(".out.part-0000000001.jsonl.pending"));
  auto w = writer();
  Status s = w->recover(identity_, 1, state1);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.message();
}

TEST_F(FileSinkTransactionTest, MalformedStateIsDataLoss) {
  auto w = writer();
  Status s = w->recover(identity_, 1, "garbage");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.message();
  std::string state;
  ByteWriter bytes(&state);
  bytes.u8(1);
  bytes.varint(1);
  bytes.varint(7);  // a part newer than the checkpoint that lists it
  s = writer()->recover(identity_, 3, state);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.message();
}

}  // namespace
}  // namespace sluice
