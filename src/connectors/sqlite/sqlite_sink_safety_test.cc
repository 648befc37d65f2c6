// Specification of the SQLite sink's guards against silent loss (issue 9): NULL keys of an
// upsert table compare equal (IS semantics), sluice's bookkeeping table names are reserved,
// paths are plain file names (never a URI or an in-memory database), and a database file
// deleted while the job writes it is an error, not a silent loss.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "connectors/sqlite/sqlite_sink.h"
#include "connectors/sqlite/sqlite_test_util.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::query;
using testing::sink_spec;
using testing::TempDir;

// (region TEXT, page TEXT, views BIGINT)
SchemaPtr schema() {
  return make_schema({{"region", TypeId::kString}, {"page", TypeId::kString}, {"views", TypeId::kInt64}});
}

struct Row {
  const char* region;  // nullptr = NULL
  const char* page;    // nullptr = NULL
  int64_t views;
  RowKind kind = RowKind::kInsert;
};

RecordBatch batch(const std::vector<Row>& rows) {
  RecordBatch b(schema());
  for (const Row& r : rows) {
    for (int c = 0; c < 2; ++c) {
      const char* v = c == 0 ? r.region : r.page;
      if (v != nullptr) {
        b.mutable_column(static_cast<size_t>(c)).append_string(v);
      } else {
        b.mutable_column(static_cast<size_t>(c)).append_null();
      }
    }
    b.mutable_column(2).append_int(r.views);
    b.row_kinds.push_back(r.kind);
  }
  b.sync_num_rows();
  return b;
}

class SqliteSinkSafetyTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<SinkFactory>> factory(std::map<std::string, std::string> options) {
    options.emplace("path", db_);
    return make_sink_factory(sink_spec("sqlite", std::move(options), schema(), "per_page"));
  }
  void write(std::map<std::string, std::string> options, const std::vector<RecordBatch>& batches) {
    auto f = factory(std::move(options));
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    auto w = std::move(f.value()->create_writer()).value();
    ASSERT_TRUE(w->open().is_ok());
    for (const auto& b : batches) {
      ASSERT_TRUE(w->write(b).is_ok());
      ASSERT_TRUE(w->flush().is_ok());
    }
    ASSERT_TRUE(w->close().is_ok());
  }
  // A writer of `per_page` in db_ without options, opened (null on a failure).
  std::unique_ptr<SinkWriter> open_writer() {
    auto f = factory({});
    EXPECT_TRUE(f.is_ok()) << f.status().message();
    if (!f.is_ok()) return nullptr;
    auto w = f.value()->create_writer();
    if (!w.is_ok() || !w.value()->open().is_ok()) return nullptr;
    return std::move(w).value();
  }
  std::vector<std::string> rows() {
    return query(db_, "SELECT region, page, views FROM per_page ORDER BY region, page, views");
  }

  TempDir dir_;
  std::string db_ = dir_.file("out.db");
};

// Issue 9 point 13: a NULL group key is one key: updates replace its row, and a rerun of
// the job replaces it again instead of adding rows.
TEST_F(SqliteSinkSafetyTest, NullKeysAreOneKeyInAnUpsertTable) {
  const std::map<std::string, std::string> keyed{{"primary_key", "region,page"}};
  const auto run = [&] {
    write(keyed, {batch({{nullptr, "/a", 1}, {"eu", nullptr, 1}, {nullptr, nullptr, 1}, {"eu", "/a", 1}}),
                  batch({{nullptr, "/a", 1, RowKind::kUpdateBefore},
                         {nullptr, "/a", 2, RowKind::kUpdateAfter},
                         {nullptr, nullptr, 1, RowKind::kUpdateBefore},
                         {nullptr, nullptr, 5, RowKind::kUpdateAfter}})});
  };
  run();
  const std::vector<std::string> expected{"NULL|NULL|5", "NULL|/a|2", "eu|NULL|1", "eu|/a|1"};
  EXPECT_EQ(rows(), expected);
  run();  // a rerun (an upsert sink without checkpoints is idempotent)
  EXPECT_EQ(rows(), expected);
  write(keyed, {batch({{"eu", nullptr, 1, RowKind::kDelete}})});
  EXPECT_EQ(rows(), (std::vector<std::string>{"NULL|NULL|5", "NULL|/a|2", "eu|/a|1"}));
}

// Issue 9 point 22: the bookkeeping tables cannot be chosen as a user table.
TEST_F(SqliteSinkSafetyTest, TheSluicePrefixIsReserved) {
  for (const char* name : {"_sluice_commits", "_SLUICE_undo", "_sluice_x"}) {
    auto f = factory({{"table", name}});
    ASSERT_FALSE(f.is_ok()) << name;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find("is reserved"), std::string::npos) << f.status().message();
  }
  auto by_sql_name = make_sink_factory(sink_spec("sqlite", {{"path", db_}}, schema(), "_sluice_commits"));
  EXPECT_FALSE(by_sql_name.is_ok());
  EXPECT_TRUE(factory({{"table", "sluice_commits"}}).is_ok());
}

// Issue 9 point 22: SQLite would open these as a URI or a memory database.
TEST_F(SqliteSinkSafetyTest, UriAndMemoryPathsAreRefused) {
  for (const char* path : {"file:x.db?mode=memory", "file:out.db", ":memory:"}) {
    auto f = make_sink_factory(sink_spec("sqlite", {{"path", path}}, schema(), "per_page"));
    ASSERT_FALSE(f.is_ok()) << path;
    EXPECT_NE(f.status().message().find("written nowhere"), std::string::npos) << f.status().message();
  }
}

// Issue 9 point 7: the database file deleted while the job writes it: the next commit fails.
TEST_F(SqliteSinkSafetyTest, ADeletedDatabaseFileFailsTheNextCommit) {
  auto w = open_writer();
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->write(batch({{"eu", "/a", 1}})).is_ok());
  ASSERT_TRUE(w->flush().is_ok());
  ASSERT_EQ(::unlink(db_.c_str()), 0);
  ASSERT_TRUE(w->write(batch({{"eu", "/b", 1}})).is_ok());
  Status s = w->flush();
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("was deleted or replaced"), std::string::npos) << s.message();
}

// Periodic flushes apply rows on the writer's applier thread (start_flush() returns at
// once). A batch that fails there is not lost silently: the next write, flush or close
// returns the error, and the rows written after it are never applied out of order.
TEST_F(SqliteSinkSafetyTest, AFailedBackgroundFlushFailsTheNextCall) {
  auto w = open_writer();
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->write(batch({{"eu", "/a", 1}})).is_ok());
  ASSERT_TRUE(w->flush().is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"eu|/a|1"}));
  ASSERT_EQ(::unlink(db_.c_str()), 0);  // the next apply fails ("was deleted or replaced")
  ASSERT_TRUE(w->write(batch({{"eu", "/b", 1}})).is_ok());
  ASSERT_TRUE(w->start_flush().is_ok()) << "returns before the rows are applied";
  Status s;
  for (int i = 0; i < 200 && s.is_ok(); ++i) {  // the applier fails in the background
    s = w->write(batch({{"eu", "/c", 1}}));
    if (s.is_ok()) s = w->start_flush();
  }
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.message();
  EXPECT_NE(s.message().find("was deleted or replaced"), std::string::npos) << s.message();
  EXPECT_EQ(w->close().code(), StatusCode::kIoError) << "close reports it too";
}

// Rows handed to the applier are visible once flush() (or close()) returns.
TEST_F(SqliteSinkSafetyTest, FlushWaitsForTheRowsOfEarlierStartedFlushes) {
  auto w = open_writer();
  ASSERT_NE(w, nullptr);
  for (int i = 0; i < 50; ++i) {
    const std::string page = "/" + std::to_string(i);
    ASSERT_TRUE(w->write(batch({{"eu", page.c_str(), i}})).is_ok());
    ASSERT_TRUE(w->start_flush().is_ok());
  }
  ASSERT_TRUE(w->flush().is_ok());
  EXPECT_EQ(query(db_, "SELECT COUNT(*), SUM(views) FROM per_page"), (std::vector<std::string>{"50|1225"}));
  ASSERT_TRUE(w->close().is_ok());
}

// A writer killed in the middle of a transaction on a database still in rollback-journal
// mode (a job's very first moments: before the switch to WAL) leaves a hot journal, which
// only a read-write connection may roll back. Planning probes the table read-only; it must
// not fail the restarted job with "attempt to write a readonly database" (it did, under
// the crash tests' kill -9 restarts).
TEST_F(SqliteSinkSafetyTest, AHotJournalLeftByAKilledWriterDoesNotFailPlanning) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sqlite3* db = nullptr;
    sqlite3_open(db_.c_str(), &db);
    sqlite3_exec(db, "PRAGMA cache_size = 1; CREATE TABLE per_page (region TEXT, page TEXT, views BIGINT);"
                     "BEGIN; CREATE TABLE filler (x BIGINT);", nullptr, nullptr, nullptr);
    for (int i = 0; i < 20000; ++i) {
      sqlite3_exec(db, "INSERT INTO per_page VALUES ('eu', '/a', 1); INSERT INTO filler VALUES (1)", nullptr, nullptr,
                   nullptr);
    }
    _exit(0);  // no commit, no close: the journal stays hot
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(std::filesystem::exists(db_ + "-journal"));
  auto f = factory({});
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  // The killed transaction was rolled back: the table exists and is empty.
  EXPECT_EQ(query(db_, "SELECT COUNT(*) FROM per_page"), std::vector<std::string>{"0"});
}

}  // namespace
}  // namespace sluice
