// Specification of the SQLite sink's commit records (sqlite_sink.h): they are keyed by who
// commits (job id + sink instance), never by table name, so several jobs writing one table
// each land all their rows exactly once; a job whose checkpoints were lost refuses a fresh
// start that would repeat what it committed (unless --start-over rolls it back); the layout
// of an older sluice (keyed by table name) is migrated and adopted.
#include "common/serde.h"
#include "connectors/sqlite/sqlite_sink.h"
#include "connectors/sqlite/sqlite_test_util.h"
#include "connectors/test_util.h"
#include "types/batch_serde.h"

namespace sluice {
namespace {

using testing::exec;
using testing::query;
using testing::sink_spec;
using testing::TempDir;

const char* kJobA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const char* kJobB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

SchemaPtr schema() { return make_schema({{"page", TypeId::kString}, {"views", TypeId::kInt64}}); }

RecordBatch batch(const std::vector<std::pair<const char*, int64_t>>& rows) {
  RecordBatch b(schema());
  for (const auto& [page, views] : rows) {
    b.mutable_column(0).append_string(page);
    b.mutable_column(1).append_int(views);
    b.row_kinds.push_back(RowKind::kInsert);
  }
  b.sync_num_rows();
  return b;
}

class SqliteCommitRecordsTest : public ::testing::Test {
 protected:
  std::unique_ptr<SinkWriter> writer(std::map<std::string, std::string> options = {}) {
    options.emplace("path", db_);
    auto f = make_sink_factory(sink_spec("sqlite", std::move(options), schema(), "views"));
    EXPECT_TRUE(f.is_ok()) << f.status().message();
    auto w = std::move(f.value()->create_writer()).value();
    EXPECT_TRUE(w->open().is_ok());
    return w;
  }
  Status recover(SinkWriter& w, const SinkIdentity& id, uint64_t restored, const std::string& state = "") {
    return w.recover(id, restored, state);
  }
  static SinkIdentity job(const char* id, bool start_over = false) {
    SinkIdentity s = testing::test_sink_identity(id);
    s.start_over = start_over;
    return s;
  }
  std::string commit_checkpoint(SinkWriter& w, uint64_t id, const std::vector<std::pair<const char*, int64_t>>& rows) {
    EXPECT_TRUE(w.write(batch(rows)).is_ok());
    auto state = w.pre_commit(id);
    EXPECT_TRUE(state.is_ok()) << state.status().message();
    EXPECT_TRUE(w.commit(id).is_ok());
    return state.is_ok() ? state.value() : std::string();
  }
  std::vector<std::string> rows() { return query(db_, "SELECT page, views FROM views ORDER BY page, views"); }
  std::vector<std::string> commits() {
    return query(db_, "SELECT job_id, sink_id, table_name, checkpoint_id FROM _sluice_commits ORDER BY job_id");
  }

  TempDir dir_;
  std::string db_ = dir_.file("out.db");
};

// Issue 9 point 2: two jobs (two checkpoint directories, both numbering checkpoints from 1)
// load one table; neither skips the other's checkpoints.
TEST_F(SqliteCommitRecordsTest, TwoJobsWritingOneTableEachLandEveryRow) {
  auto a = writer();
  auto b = writer();
  ASSERT_TRUE(recover(*a, job(kJobA), 0).is_ok());
  ASSERT_TRUE(recover(*b, job(kJobB), 0).is_ok());
  commit_checkpoint(*a, 1, {{"/a1", 1}});
  commit_checkpoint(*b, 1, {{"/b1", 1}});
  commit_checkpoint(*b, 2, {{"/b2", 2}});
  commit_checkpoint(*a, 2, {{"/a2", 2}});
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/a2|2", "/b1|1", "/b2|2"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{std::string(kJobA) + "|out.sink/0|views|2",
                                                 std::string(kJobB) + "|out.sink/0|views|2"}));
}

// A crashed job rolls back only its own rows newer than the checkpoint it resumes from.
TEST_F(SqliteCommitRecordsTest, RollbackOfOneJobLeavesTheOtherJobsRows) {
  auto a = writer();
  auto b = writer();
  ASSERT_TRUE(recover(*a, job(kJobA), 0).is_ok());
  ASSERT_TRUE(recover(*b, job(kJobB), 0).is_ok());
  std::string a1 = commit_checkpoint(*a, 1, {{"/a1", 1}});
  commit_checkpoint(*b, 1, {{"/b1", 1}});
  commit_checkpoint(*a, 2, {{"/a2", 2}});
  commit_checkpoint(*b, 2, {{"/b2", 2}});
  a.reset();
  auto resumed = writer();
  ASSERT_TRUE(recover(*resumed, job(kJobA), 1, a1).is_ok());  // checkpoint 2 of A was lost
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/b1|1", "/b2|2"}));
}

// A job started from another job's savepoint (a new checkpoint directory) commits nothing
// that job already committed.
TEST_F(SqliteCommitRecordsTest, AJobStartedFromAnotherJobsSavepointSkipsWhatThatJobCommitted) {
  std::string savepoint;
  {
    auto a = writer();
    ASSERT_TRUE(recover(*a, job(kJobA), 0).is_ok());
    commit_checkpoint(*a, 1, {{"/a1", 1}});
    savepoint = commit_checkpoint(*a, 2, {{"/a2", 2}});
  }
  auto b = writer();
  ASSERT_TRUE(recover(*b, job(kJobB), 2, savepoint).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/a2|2"}));
  commit_checkpoint(*b, 3, {{"/b3", 3}});
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/a2|2", "/b3|3"}));
}

// Issue 9 point 6: every checkpoint of the job is lost after it committed; a fresh start
// would append the committed rows again: refused, naming the table and the checkpoint.
TEST_F(SqliteCommitRecordsTest, FreshStartOfAJobThatCommittedIsRefused) {
  {
    auto a = writer();
    ASSERT_TRUE(recover(*a, job(kJobA), 0).is_ok());
    commit_checkpoint(*a, 1, {{"/a1", 1}});
    commit_checkpoint(*a, 2, {{"/a2", 2}});
  }
  auto again = writer();
  Status s = recover(*again, job(kJobA), 0);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("sqlite table 'views'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("up to checkpoint 2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--start-over"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/a2|2"}));
}

TEST_F(SqliteCommitRecordsTest, StartOverRollsBackWhatTheJobCommitted) {
  exec(db_, "CREATE TABLE views (page TEXT, views INTEGER)");
  exec(db_, "INSERT INTO views VALUES ('/before', 0)");
  {
    auto a = writer();
    ASSERT_TRUE(recover(*a, job(kJobA), 0).is_ok());
    commit_checkpoint(*a, 1, {{"/a1", 1}});
    commit_checkpoint(*a, 2, {{"/a2", 2}, {"/a3", 3}});
  }
  auto again = writer();
  Status s = recover(*again, job(kJobA, /*start_over=*/true), 0);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(rows(), (std::vector<std::string>{"/before|0"}));  // rows not of this job stay
  EXPECT_TRUE(commits().empty());
  commit_checkpoint(*again, 1, {{"/a1", 1}});
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/before|0"}));
}

// An upsert table ends the same after a replay from the beginning: no refusal.
TEST_F(SqliteCommitRecordsTest, FreshStartOfAnUpsertTableIsAllowed) {
  {
    auto a = writer({{"primary_key", "page"}});
    ASSERT_TRUE(recover(*a, job(kJobA), 0).is_ok());
    commit_checkpoint(*a, 1, {{"/a", 1}});
  }
  auto again = writer({{"primary_key", "page"}});
  ASSERT_TRUE(recover(*again, job(kJobA), 0).is_ok());
  commit_checkpoint(*again, 1, {{"/a", 1}});
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a|1"}));
}

// Another job's records do not stop a new job (per-partition loaders).
TEST_F(SqliteCommitRecordsTest, ANewJobStartsBesideAnotherJobsRecords) {
  {
    auto a = writer();
    ASSERT_TRUE(recover(*a, job(kJobA), 0).is_ok());
    commit_checkpoint(*a, 1, {{"/a1", 1}});
  }
  auto b = writer();
  SinkIdentity id = job(kJobB);
  id.new_job = true;
  ASSERT_TRUE(recover(*b, id, 0).is_ok());
  commit_checkpoint(*b, 1, {{"/b1", 1}});
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/b1|1"}));
}

SinkIdentity from_dir(const char* id, const std::string& dir, bool start_over = false) {
  SinkIdentity s = testing::test_sink_identity(id);
  s.checkpoint_dir = dir;
  s.start_over = start_over;
  return s;
}

// Issue 9 point 6: the checkpoint directory deleted with its job_id: the rerun is job B, but
// A's record names the same directory, so A's rows are B's from before: refused.
TEST_F(SqliteCommitRecordsTest, ANewJobIdFromTheDirectoryOfAnotherIsRefused) {
  {
    auto a = writer();
    ASSERT_TRUE(recover(*a, from_dir(kJobA, "/ck"), 0).is_ok());
    commit_checkpoint(*a, 1, {{"/a1", 1}});
  }
  auto b = writer();
  Status s = recover(*b, from_dir(kJobB, "/ck"), 0);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("'/ck'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(std::string(kJobA) + " up to checkpoint 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--start-over"), std::string::npos) << s.message();
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1"}));
}

// Another directory is another job (per-partition loaders): no refusal.
TEST_F(SqliteCommitRecordsTest, ANewJobIdFromAnotherDirectoryStartsBesideIt) {
  {
    auto a = writer();
    ASSERT_TRUE(recover(*a, from_dir(kJobA, "/ck-a"), 0).is_ok());
    commit_checkpoint(*a, 1, {{"/a1", 1}});
  }
  auto b = writer();
  ASSERT_TRUE(recover(*b, from_dir(kJobB, "/ck-b"), 0).is_ok());
  commit_checkpoint(*b, 1, {{"/b1", 1}});
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/b1|1"}));
}

// --start-over takes the deleted directory's records over and rolls their rows back.
TEST_F(SqliteCommitRecordsTest, StartOverRollsBackWhatTheDeletedDirectorysJobCommitted) {
  {
    auto a = writer();
    ASSERT_TRUE(recover(*a, from_dir(kJobA, "/ck"), 0).is_ok());
    commit_checkpoint(*a, 1, {{"/a1", 1}});
    commit_checkpoint(*a, 2, {{"/a2", 2}});
  }
  auto b = writer();
  Status s = recover(*b, from_dir(kJobB, "/ck", /*start_over=*/true), 0);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_TRUE(rows().empty());
  EXPECT_TRUE(commits().empty());
  commit_checkpoint(*b, 1, {{"/a1", 1}});
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1"}));
  EXPECT_EQ(query(db_, "SELECT job_id, checkpoint_dir FROM _sluice_commits"),
            (std::vector<std::string>{std::string(kJobB) + "|/ck"}));
}

// Commit records without the checkpoint directory (an earlier sluice): the column is added,
// empty in the older rows.
TEST_F(SqliteCommitRecordsTest, RecordsWithoutTheCheckpointDirectoryGetTheColumn) {
  exec(db_,
       "CREATE TABLE _sluice_commits (job_id TEXT NOT NULL, sink_id TEXT NOT NULL, table_name TEXT NOT NULL, "
       "checkpoint_id INTEGER NOT NULL, PRIMARY KEY (job_id, sink_id))");
  exec(db_, "INSERT INTO _sluice_commits VALUES ('" + std::string(kJobA) + "', 'out.sink/0', 'views', 3)");
  auto b = writer();
  ASSERT_TRUE(recover(*b, from_dir(kJobB, "/ck"), 0).is_ok());
  commit_checkpoint(*b, 1, {{"/b1", 1}});
  EXPECT_EQ(query(db_, "SELECT job_id, checkpoint_dir FROM _sluice_commits ORDER BY job_id"),
            (std::vector<std::string>{std::string(kJobA) + "|", std::string(kJobB) + "|/ck"}));
}

// The older layout keyed by table name: migrated in place, and a job resuming from a
// checkpoint of that sluice (its state names no job) adopts its table's record.
TEST_F(SqliteCommitRecordsTest, TheOlderLayoutIsMigratedAndAdoptedByTheResumedJob) {
  exec(db_, "CREATE TABLE views (page TEXT, views INTEGER)");
  exec(db_, "INSERT INTO views VALUES ('/a1', 1), ('/a2', 2)");
  exec(db_, "CREATE TABLE _sluice_commits (sink TEXT PRIMARY KEY, checkpoint_id INTEGER NOT NULL)");
  exec(db_, "INSERT INTO _sluice_commits VALUES ('views', 2), ('other', 4)");
  exec(db_,
       "CREATE TABLE _sluice_undo (sink TEXT, checkpoint_id INTEGER, first_rowid INTEGER, last_rowid INTEGER, "
       "PRIMARY KEY (sink, checkpoint_id))");
  exec(db_, "INSERT INTO _sluice_undo VALUES ('views', 1, 1, 1), ('views', 2, 2, 2)");
  // The state an older sluice wrote at checkpoint 2 (version 1: no job), holding
  // transaction 2, already committed.
  std::string state;
  ByteWriter w(&state);
  w.u8(1);
  w.varint(1);
  w.varint(2);
  write_batch(w, batch({{"/a2", 2}}));
  auto a = writer();
  Status s = recover(*a, job(kJobA), 2, state);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1", "/a2|2"}));
  EXPECT_EQ(commits(), (std::vector<std::string>{"|table:other|other|4", std::string(kJobA) + "|out.sink/0|views|2"}));
  a.reset();
  // The adopted undo entries still roll back: resuming from checkpoint 1 removes /a2.
  std::string state1;
  ByteWriter w1(&state1);
  w1.u8(1);
  w1.varint(0);
  auto b = writer();
  ASSERT_TRUE(recover(*b, job(kJobA), 1, state1).is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"/a1|1"}));
}

}  // namespace
}  // namespace sluice
