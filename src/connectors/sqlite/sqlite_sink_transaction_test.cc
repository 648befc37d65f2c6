// Specification of the SQLite sink with checkpoints: the two-phase commit of sink.h, with
// each checkpoint's rows applied in one SQLite transaction that also records the
// checkpoint in _sluice_commits (sqlite_sink.h). A crash is simulated by destroying the
// writer without committing and recovering with a new one.
#include "common/serde.h"
#include "connectors/sqlite/sqlite_sink.h"
#include "connectors/sqlite/sqlite_test_util.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::exec;
using testing::query;
using testing::sink_spec;
using testing::TempDir;

// (page TEXT, views BIGINT)
SchemaPtr schema() { return make_schema({{"page", TypeId::kString}, {"views", TypeId::kInt64}}); }

struct Row {
  const char* page;
  int64_t views;
  RowKind kind = RowKind::kInsert;
};

RecordBatch batch(const std::vector<Row>& rows) {
  RecordBatch b(schema());
  for (const Row& r : rows) {
    b.mutable_column(0).append_string(r.page);
    b.mutable_column(1).append_int(r.views);
    b.row_kinds.push_back(r.kind);
  }
  b.sync_num_rows();
  return b;
}

class SqliteSinkTransactionTest : public ::testing::Test {
 protected:
  std::unique_ptr<SinkWriter> writer(std::map<std::string, std::string> options = {}) {
    options.emplace("path", db_);
    auto f = make_sink_factory(sink_spec("sqlite", std::move(options), schema(), "views"));
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
    Status s = w->recover(testing::test_sink_identity(), restored_id, state);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return w;
  }
  std::string pre_commit(SinkWriter& w, uint64_t id) {
    auto state = w.pre_commit(id);
    EXPECT_TRUE(state.is_ok()) << state.status().message();
    return state.is_ok() ? state.value() : std::string();
  }
  void write(SinkWriter& w, const std::vector<Row>& rows) {
    Status s = w.write(batch(rows));
    EXPECT_TRUE(s.is_ok()) << s.message();
  }
  std::vector<std::string> rows() { return query(db_, "SELECT page, views FROM views ORDER BY rowid"); }
  std::vector<std::string> commits() { return query(db_, "SELECT table_name, checkpoint_id FROM _sluice_commits"); }

  TempDir dir_;
  std::string db_ = dir_.file("out.db");
};

TEST_F(SqliteSinkTransactionTest, RowsBecomeVisibleOnlyWhenTheirCheckpointCommits) {
  auto w = recovered(0, "");
  write(*w, {{"/a", 1}});
  ASSERT_TRUE(w->flush().is_ok());
  EXPECT_TRUE(rows().empty());
  pre_commit(*w, 1);
  write(*w, {{"/b", 2}});
  pre_commit(*w, 2);
  EXPECT_TRUE(rows().empty());
  ASSERT_TRUE(w->commit(1).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|1"}));
  ASSERT_TRUE(w->commit(2).is_ok());
  ASSERT_TRUE(w->commit(2).is_ok());  // idempotent
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/b|2"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|2"}));
  EXPECT_EQ(query(db_, "PRAGMA journal_mode"), (std::vector<std::string>{"wal"}));
}

TEST_F(SqliteSinkTransactionTest, RecoveryCommitsTheRestoredCheckpointAndDropsLaterRows) {
  std::string state2;
  {
    auto w = recovered(0, "");
    write(*w, {{"/a", 1}});
    pre_commit(*w, 1);
    write(*w, {{"/b", 2}});
    state2 = pre_commit(*w, 2);
    ASSERT_TRUE(w->commit(1).is_ok());
    write(*w, {{"/c", 3}});  // belongs to no checkpoint
  }  // crash: checkpoint 2 is durable, its commit never came
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1"}));
  auto w = recovered(2, state2);
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/b|2"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|2"}));
  ASSERT_TRUE(w->commit(2).is_ok());  // the runtime may commit the restored id again
  write(*w, {{"/c", 3}});  // the resumed job writes row 3 again
  pre_commit(*w, 3);
  ASSERT_TRUE(w->commit(3).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/b|2", "/c|3"}));
}

// The crash came after the SQLite COMMIT of checkpoint 1 but before the runtime learned of
// it: recovery sees checkpoint 1 recorded in _sluice_commits and applies nothing.
TEST_F(SqliteSinkTransactionTest, RecoveringAnAlreadyCommittedCheckpointIsANoOp) {
  std::string state1;
  {
    auto w = recovered(0, "");
    write(*w, {{"/a", 1}});
    state1 = pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
  }
  auto w = recovered(1, state1);
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|1"}));
}

// Resuming from an older checkpoint than the one committed (the newest was unreadable, or
// --from-savepoint an older one): recovery rolls the table back to the restored checkpoint,
// and the replayed rows are applied once, under new ids.
TEST_F(SqliteSinkTransactionTest, RecoveryToAnOlderCheckpointRollsBackTheNewerAppendedRows) {
  std::string state1;
  {
    auto w = recovered(0, "");
    write(*w, {{"/a", 1}, {"/a", 2}});
    state1 = pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
    write(*w, {{"/b", 1}});
    pre_commit(*w, 2);
    write(*w, {{"/c", 1}, {"/c", 2}, {"/c", 3}});
    pre_commit(*w, 3);
    ASSERT_TRUE(w->commit(3).is_ok());
  }
  EXPECT_EQ(query(db_, "SELECT checkpoint_id, first_rowid, last_rowid FROM _sluice_undo ORDER BY checkpoint_id"),
            (std::vector<std::string>{"1|1|2", "2|3|3", "3|4|6"}));
  auto w = recovered(1, state1);
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/a|2"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|1"}));
  EXPECT_EQ(query(db_, "SELECT checkpoint_id FROM _sluice_undo"), (std::vector<std::string>{"1"}));
  write(*w, {{"/b", 1}, {"/c", 1}, {"/c", 2}, {"/c", 3}});  // the replay
  pre_commit(*w, 4);
  ASSERT_TRUE(w->commit(4).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/a|2", "/b|1", "/c|1", "/c|2", "/c|3"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|4"}));
  w.reset();
  auto again = recovered(1, state1);  // rolls back checkpoint 4 in turn
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/a|2"}));
}

// Rows of another writer (not the sink's) stay: only the recorded rowid ranges go.
TEST_F(SqliteSinkTransactionTest, RollbackDeletesOnlyTheSinksRows) {
  std::string state1;
  {
    auto w = recovered(0, "");
    write(*w, {{"/a", 1}});
    state1 = pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
    exec(db_, "INSERT INTO views VALUES ('/other', 9)");
    write(*w, {{"/b", 1}});
    pre_commit(*w, 2);
    ASSERT_TRUE(w->commit(2).is_ok());
  }
  auto w = recovered(1, state1);
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/other|9"}));
}

// Even when the ids of the replayed checkpoints repeat (the runtime numbers on after the
// newest id it has seen, but the sink does not rely on it).
TEST_F(SqliteSinkTransactionTest, ReplayUnderTheRolledBackIdsIsAppliedOnce) {
  std::string state1;
  {
    auto w = recovered(0, "");
    write(*w, {{"/a", 1}});
    state1 = pre_commit(*w, 1);
    write(*w, {{"/b", 2}});
    pre_commit(*w, 2);
    ASSERT_TRUE(w->commit(2).is_ok());
  }
  auto w = recovered(1, state1);
  write(*w, {{"/b", 2}});
  pre_commit(*w, 2);
  ASSERT_TRUE(w->commit(2).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/b|2"}));
  write(*w, {{"/c", 3}});
  pre_commit(*w, 3);
  ASSERT_TRUE(w->commit(3).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/b|2", "/c|3"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|3"}));
}

// An upsert table needs no undo: replaying the changes after the restored checkpoint ends
// with the same table.
TEST_F(SqliteSinkTransactionTest, RecoveryToAnOlderCheckpointReplaysAnUpsertTableToTheSameContent) {
  const std::map<std::string, std::string> keyed = {{"primary_key", "page"}};
  const std::vector<Row> changes2 = {{"/a", 1, RowKind::kUpdateBefore},
                                     {"/a", 2, RowKind::kUpdateAfter},
                                     {"/b", 1, RowKind::kDelete},
                                     {"/c", 1}};
  const std::vector<Row> changes3 = {{"/a", 2, RowKind::kUpdateBefore}, {"/a", 3, RowKind::kUpdateAfter}, {"/d", 1}};
  std::string state1;
  {
    auto w = recovered(0, "", keyed);
    write(*w, {{"/a", 1}, {"/b", 1}});
    state1 = pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
    write(*w, changes2);
    pre_commit(*w, 2);
    write(*w, changes3);
    pre_commit(*w, 3);
    ASSERT_TRUE(w->commit(3).is_ok());
  }
  const std::vector<std::string> expected = {"/a|3", "/c|1", "/d|1"};
  EXPECT_EQ(query(db_, "SELECT page, views FROM views ORDER BY page"), expected);
  auto w = recovered(1, state1, keyed);
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|1"}));
  write(*w, changes2);
  pre_commit(*w, 4);
  ASSERT_TRUE(w->commit(4).is_ok());
  write(*w, changes3);
  pre_commit(*w, 5);
  ASSERT_TRUE(w->commit(5).is_ok());
  EXPECT_EQ(query(db_, "SELECT page, views FROM views ORDER BY page"), expected);
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|5"}));
}

// Only the newest checkpoints keep undo entries; an older one is marked by an entry without
// rowids, and a rollback past it leaves the rows of the pruned checkpoints (with a warning).
TEST_F(SqliteSinkTransactionTest, UndoEntriesArePrunedToTheNewestCheckpoints) {
  set_sqlite_undo_retention_for_testing(3);
  std::string state1, state4;
  {
    auto w = recovered(0, "");
    for (int64_t id = 1; id <= 6; ++id) {
      write(*w, {{"/p", id}});
      std::string state = pre_commit(*w, static_cast<uint64_t>(id));
      if (id == 1) state1 = state;
      if (id == 4) state4 = state;
      ASSERT_TRUE(w->commit(static_cast<uint64_t>(id)).is_ok());
    }
  }
  EXPECT_EQ(query(db_, "SELECT checkpoint_id, first_rowid, last_rowid FROM _sluice_undo ORDER BY checkpoint_id"),
            (std::vector<std::string>{"3|NULL|NULL", "4|4|4", "5|5|5", "6|6|6"}));
  recovered(4, state4);  // within the bound: exactly-once
  EXPECT_EQ(rows(), (std::vector<std::string>{"/p|1", "/p|2", "/p|3", "/p|4"}));
  recovered(1, state1);  // past it: the rows of checkpoints 2 and 3 stay
  EXPECT_EQ(rows(), (std::vector<std::string>{"/p|1", "/p|2", "/p|3"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|1"}));
  EXPECT_TRUE(query(db_, "SELECT checkpoint_id FROM _sluice_undo").empty());
  set_sqlite_undo_retention_for_testing(0);
}

// A table without rowid cannot be rolled back: recovery still resets the recorded
// checkpoint (so the replay is applied) and keeps the rows (at-least-once).
TEST_F(SqliteSinkTransactionTest, AppendTableWithoutRowidIsNotRolledBack) {
  exec(db_, "CREATE TABLE views (page TEXT PRIMARY KEY, views INTEGER) WITHOUT ROWID");
  std::string state1;
  {
    auto w = recovered(0, "");
    write(*w, {{"/a", 1}});
    state1 = pre_commit(*w, 1);
    write(*w, {{"/b", 2}});
    pre_commit(*w, 2);
    ASSERT_TRUE(w->commit(2).is_ok());
  }
  EXPECT_TRUE(query(db_, "SELECT checkpoint_id FROM _sluice_undo").empty());
  auto w = recovered(1, state1);
  EXPECT_EQ(query(db_, "SELECT page, views FROM views ORDER BY page"), (std::vector<std::string>{"/a|1", "/b|2"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"views|1"}));
}

TEST_F(SqliteSinkTransactionTest, AnAbortedCheckpointIsCommittedWithTheNextOne) {
  std::string state2;
  {
    auto w = recovered(0, "");
    write(*w, {{"/a", 1}});
    pre_commit(*w, 1);  // checkpoint 1 never completes: no commit(1)
    write(*w, {{"/b", 2}});
    state2 = pre_commit(*w, 2);
  }
  auto w = recovered(2, state2);
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1", "/b|2"}));
}

TEST_F(SqliteSinkTransactionTest, UpsertAndChangelogSemanticsHoldAcrossCheckpoints) {
  std::string state2;
  {
    auto w = recovered(0, "", {{"primary_key", "page"}});
    write(*w, {{"/a", 1}, {"/b", 1}, {"/c", 1}});
    pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
    write(*w, {{"/a", 1, RowKind::kUpdateBefore}, {"/a", 2, RowKind::kUpdateAfter}, {"/b", 1, RowKind::kDelete}});
    write(*w, {{"/a", 2, RowKind::kUpdateBefore}, {"/a", 3, RowKind::kUpdateAfter}});
    state2 = pre_commit(*w, 2);
  }
  auto w = recovered(2, state2, {{"primary_key", "page"}});
  EXPECT_EQ(query(db_, "SELECT page, views FROM views ORDER BY page"), (std::vector<std::string>{"/a|3", "/c|1"}));
  auto again = recovered(2, state2, {{"primary_key", "page"}});
  EXPECT_EQ(query(db_, "SELECT page, views FROM views ORDER BY page"), (std::vector<std::string>{"/a|3", "/c|1"}));
}

TEST_F(SqliteSinkTransactionTest, OneRowTableKeepsTheLatestValue) {
  auto w = recovered(0, "", {{"primary_key", ""}});
  write(*w, {{"/a", 1}});
  pre_commit(*w, 1);
  write(*w, {{"/a", 1, RowKind::kUpdateBefore}, {"/a", 5, RowKind::kUpdateAfter}});
  pre_commit(*w, 2);
  ASSERT_TRUE(w->commit(2).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|5"}));
}

// The records of an older sluice (keyed by table name) are migrated; a fresh start forgets
// its table's, as that sluice did.
TEST_F(SqliteSinkTransactionTest, FreshStartKeepsTheTableAndForgetsTheSinksCheckpoint) {
  exec(db_, "CREATE TABLE views (page TEXT, views INTEGER)");
  exec(db_, "INSERT INTO views VALUES ('/old', 9)");
  exec(db_, "CREATE TABLE _sluice_commits (sink TEXT PRIMARY KEY, checkpoint_id INTEGER NOT NULL)");
  exec(db_, "INSERT INTO _sluice_commits VALUES ('views', 7), ('other', 4)");
  exec(db_,
       "CREATE TABLE _sluice_undo (sink TEXT, checkpoint_id INTEGER, first_rowid INTEGER, last_rowid INTEGER, "
       "PRIMARY KEY (sink, checkpoint_id))");
  exec(db_, "INSERT INTO _sluice_undo VALUES ('views', 7, 1, 1), ('other', 4, 1, 1)");
  auto w = recovered(0, "");
  EXPECT_EQ(rows(), (std::vector<std::string>{"/old|9"}));  // as an open without checkpoints
  EXPECT_EQ(commits(), (std::vector<std::string>{"other|4"}));
  // The old rows are the earlier run's for good: a later rollback must not delete them.
  EXPECT_EQ(query(db_, "SELECT sink_id, checkpoint_id FROM _sluice_undo"), (std::vector<std::string>{"table:other|4"}));
  write(*w, {{"/a", 1}});
  pre_commit(*w, 1);  // checkpoint ids start again at 1: not skipped
  ASSERT_TRUE(w->commit(1).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/old|9", "/a|1"}));
}

TEST_F(SqliteSinkTransactionTest, AppendSinkRefusesUpdatesWhenWritten) {
  auto w = recovered(0, "");
  Status s = w->write(batch({{"/a", 1, RowKind::kDelete}}));
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("append-only but received a -D row"), std::string::npos) << s.message();
}

TEST_F(SqliteSinkTransactionTest, NullsAndEveryTypeSurviveTheCheckpointState) {
  auto all = make_schema({{"b", TypeId::kBool},
                          {"i", TypeId::kInt64},
                          {"d", TypeId::kFloat64},
                          {"s", TypeId::kString},
                          {"t", TypeId::kTimestamp},
                          {"iv", TypeId::kInterval}});
  auto f = make_sink_factory(sink_spec("sqlite", {{"path", db_}}, all, "t"));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  RecordBatch b(all);
  b.mutable_column(0).append_bool(true);
  b.mutable_column(1).append_int(-5);
  b.mutable_column(2).append_double(2.5);
  b.mutable_column(3).append_string("x");
  b.mutable_column(4).append_int(parse_timestamp("2024-01-01T00:00:01Z").value());
  b.mutable_column(5).append_int(3 * kMicrosPerSecond);
  for (size_t c = 0; c < 6; ++c) b.mutable_column(c).append_null();
  b.sync_num_rows();
  std::string state;
  {
    auto w = std::move(f.value()->create_writer()).value();
    ASSERT_TRUE(w->open().is_ok());
    ASSERT_TRUE(w->recover(testing::test_sink_identity(), 0, "").is_ok());
    ASSERT_TRUE(w->write(b).is_ok());
    auto s = w->pre_commit(1);
    ASSERT_TRUE(s.is_ok());
    state = s.value();
  }
  auto w = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  Status s = w->recover(testing::test_sink_identity(), 1, state);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(query(db_, "SELECT b, i, d, s, t, iv FROM t ORDER BY rowid"),
            (std::vector<std::string>{"1|-5|2.5|x|2024-01-01 00:00:01|3000000", "NULL|NULL|NULL|NULL|NULL|NULL"}));
}

TEST_F(SqliteSinkTransactionTest, MalformedStateIsDataLoss) {
  Status s = writer()->recover(testing::test_sink_identity(), 1, "garbage");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.message();
  EXPECT_TRUE(rows().empty());
}

TEST_F(SqliteSinkTransactionTest, StateOfAnotherSchemaIsDataLoss) {
  std::string state;
  {
    auto w = recovered(0, "");
    write(*w, {{"/a", 1}});
    state = pre_commit(*w, 1);
  }
  auto other = make_schema({{"page", TypeId::kString}, {"views", TypeId::kFloat64}});
  auto f = make_sink_factory(sink_spec("sqlite", {{"path", dir_.file("other.db")}}, other, "views"));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto w = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  Status s = w->recover(testing::test_sink_identity(), 1, state);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.message();
}

TEST_F(SqliteSinkTransactionTest, WithoutRecoverPreCommitFlushes) {
  auto w = writer();
  write(*w, {{"/a", 1}});
  auto state = w->pre_commit(1);
  ASSERT_TRUE(state.is_ok());
  EXPECT_EQ(state.value(), "");
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1"}));
}

}  // namespace
}  // namespace sluice
