// Specification of the SQLite sink: append, upsert by key, deletes, one-row tables,
// table creation and checks; results are read back with the sqlite3 C API.
#include "connectors/sqlite/sqlite_sink.h"

#include <sqlite3.h>

#include "connectors/sqlite/sqlite_test_util.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::exec;
using testing::query;
using testing::sink_spec;
using testing::TempDir;

// (window_start TIMESTAMP, page TEXT, views BIGINT, avg_ms DOUBLE)
SchemaPtr per_page_schema() {
  return make_schema({{"window_start", TypeId::kTimestamp},
                      {"page", TypeId::kString},
                      {"views", TypeId::kInt64},
                      {"avg_ms", TypeId::kFloat64}});
}

struct Row {
  const char* window_start;
  const char* page;  // nullptr = NULL
  int64_t views;
  double avg_ms;
  RowKind kind = RowKind::kInsert;
};

RecordBatch batch(const std::vector<Row>& rows) {
  RecordBatch b(per_page_schema());
  for (const Row& r : rows) {
    b.mutable_column(0).append_int(parse_timestamp(r.window_start).value());
    if (r.page != nullptr) {
      b.mutable_column(1).append_string(r.page);
    } else {
      b.mutable_column(1).append_null();
    }
    b.mutable_column(2).append_int(r.views);
    b.mutable_column(3).append_double(r.avg_ms);
    b.row_kinds.push_back(r.kind);
  }
  b.sync_num_rows();
  return b;
}

class SqliteSinkTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<SinkFactory>> factory(std::map<std::string, std::string> options,
                                               SchemaPtr schema = per_page_schema()) {
    options.emplace("path", db_);
    return make_sink_factory(sink_spec("sqlite", std::move(options), std::move(schema), "per_page"));
  }
  // Creates a writer, writes the batches (flushing after each) and closes it.
  void write(std::map<std::string, std::string> options, const std::vector<RecordBatch>& batches) {
    auto f = factory(std::move(options));
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    auto w = std::move(f.value()->create_writer()).value();
    ASSERT_TRUE(w->open().is_ok());
    for (const auto& b : batches) {
      Status s = w->write(b);
      ASSERT_TRUE(s.is_ok()) << s.message();
      ASSERT_TRUE(w->flush().is_ok());
    }
    ASSERT_TRUE(w->close().is_ok());
  }

  TempDir dir_;
  std::string db_ = dir_.file("out.db");
};

TEST_F(SqliteSinkTest, AppendInsertsEveryRowWithSqliteFriendlyTypes) {
  write({}, {batch({{"2024-01-01T00:00:00Z", "/a", 3, 1.5}, {"2024-01-01T00:01:00.250Z", nullptr, 4, 2.0}}),
             batch({{"2024-01-01T00:00:00Z", "/a", 3, 1.5}})});
  EXPECT_EQ(query(db_, "SELECT window_start, page, views, avg_ms FROM per_page ORDER BY rowid"),
            (std::vector<std::string>{"2024-01-01 00:00:00|/a|3|1.5", "2024-01-01 00:01:00.250|NULL|4|2.0",
                                      "2024-01-01 00:00:00|/a|3|1.5"}));
  EXPECT_EQ(query(db_, "SELECT typeof(window_start), typeof(page), typeof(views), typeof(avg_ms) FROM per_page "
                       "WHERE rowid = 1"),
            (std::vector<std::string>{"text|text|integer|real"}));
}

TEST_F(SqliteSinkTest, CreatesTheTableWithMappedTypesAndKey) {
  write({{"primary_key", "window_start,page"}}, {});
  auto sql = query(db_, "SELECT sql FROM sqlite_master WHERE name = 'per_page'");
  ASSERT_EQ(sql.size(), 1u);
  EXPECT_EQ(sql[0],
            "CREATE TABLE \"per_page\" (\"window_start\" TEXT, \"page\" TEXT, \"views\" INTEGER, "
            "\"avg_ms\" REAL, PRIMARY KEY (\"window_start\", \"page\"))");
  EXPECT_EQ(query(db_, "PRAGMA journal_mode"), (std::vector<std::string>{"wal"}));
}

TEST_F(SqliteSinkTest, UpsertByCompositeKeyKeepsTheLatestValue) {
  write({{"primary_key", "window_start, page"}},
        {batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0}, {"2024-01-01T00:00:00Z", "/b", 1, 1.0}}),
         batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0, RowKind::kUpdateBefore},
                {"2024-01-01T00:00:00Z", "/a", 2, 3.0, RowKind::kUpdateAfter},
                {"2024-01-01T00:01:00Z", "/a", 5, 5.0}})});
  EXPECT_EQ(query(db_, "SELECT window_start, page, views, avg_ms FROM per_page ORDER BY window_start, page"),
            (std::vector<std::string>{"2024-01-01 00:00:00|/a|2|3.0", "2024-01-01 00:00:00|/b|1|1.0",
                                      "2024-01-01 00:01:00|/a|5|5.0"}));
}

TEST_F(SqliteSinkTest, DeleteRemovesTheRowWithThatKey) {
  write({{"primary_key", "window_start,page"}},
        {batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0}, {"2024-01-01T00:00:00Z", "/b", 1, 1.0}}),
         batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0, RowKind::kDelete}})});
  EXPECT_EQ(query(db_, "SELECT page FROM per_page"), (std::vector<std::string>{"/b"}));
}

TEST_F(SqliteSinkTest, EmptyPrimaryKeyKeepsExactlyOneRow) {
  write({{"primary_key", ""}}, {batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0}}),
                                batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0, RowKind::kUpdateBefore},
                                       {"2024-01-01T00:00:00Z", "/a", 7, 2.0, RowKind::kUpdateAfter}})});
  EXPECT_EQ(query(db_, "SELECT views FROM per_page"), (std::vector<std::string>{"7"}));
  write({{"primary_key", ""}}, {batch({{"2024-01-01T00:00:00Z", "/a", 7, 2.0, RowKind::kDelete}})});
  EXPECT_TRUE(query(db_, "SELECT views FROM per_page").empty());
}

TEST_F(SqliteSinkTest, RowsBecomeVisibleWhenFlushCommits) {
  auto f = factory({});
  ASSERT_TRUE(f.is_ok());
  auto w = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  ASSERT_TRUE(w->write(batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0}})).is_ok());
  EXPECT_TRUE(query(db_, "SELECT page FROM per_page").empty());
  ASSERT_TRUE(w->flush().is_ok());
  EXPECT_EQ(query(db_, "SELECT page FROM per_page"), (std::vector<std::string>{"/a"}));
  ASSERT_TRUE(w->close().is_ok());
}

TEST_F(SqliteSinkTest, ExistingTableMissingAColumnIsAnError) {
  exec(db_, "CREATE TABLE per_page (window_start TEXT, page TEXT, avg_ms REAL)");
  auto f = factory({});
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().message(),
            "table per_page: existing sqlite table 'per_page' in '" + db_ + "' has no column 'views'");
}

TEST_F(SqliteSinkTest, ExistingTableWithAllColumnsIsReused) {
  exec(db_, "CREATE TABLE per_page (extra TEXT DEFAULT 'x', AVG_MS REAL, views INTEGER, page TEXT, "
            "window_start TEXT)");
  write({}, {batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0}})});
  EXPECT_EQ(query(db_, "SELECT extra, page, views FROM per_page"), (std::vector<std::string>{"x|/a|1"}));
}

TEST_F(SqliteSinkTest, UpsertIntoATableWithoutThatKeyIsAnError) {
  exec(db_, "CREATE TABLE per_page (window_start TEXT, page TEXT, views INTEGER, avg_ms REAL)");
  auto f = factory({{"primary_key", "page"}});
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("ON CONFLICT clause does not match"), std::string::npos)
      << f.status().message();
}

TEST_F(SqliteSinkTest, PrimaryKeyColumnMustBeInTheSchema) {
  auto f = factory({{"primary_key", "window_start,url"}});
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("table per_page: primary_key column 'url' is not a column"),
            std::string::npos)
      << f.status().message();
}

TEST_F(SqliteSinkTest, AppendSinkRefusesUpdates) {
  auto f = factory({});
  ASSERT_TRUE(f.is_ok());
  auto w = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  Status s = w->write(batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0, RowKind::kUpdateAfter}}));
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("append-only but received a +U row"), std::string::npos) << s.message();
}

TEST_F(SqliteSinkTest, WritesToTheNamedTable) {
  write({{"table", "results"}}, {batch({{"2024-01-01T00:00:00Z", "/a", 1, 1.0}})});
  EXPECT_EQ(query(db_, "SELECT page FROM results"), (std::vector<std::string>{"/a"}));
}

TEST_F(SqliteSinkTest, IntervalsAndBooleansAreIntegers) {
  auto schema = make_schema({{"d", TypeId::kInterval}, {"ok", TypeId::kBool}});
  auto f = make_sink_factory(sink_spec("sqlite", {{"path", db_}}, schema, "t"));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  RecordBatch b(schema);
  b.mutable_column(0).append_int(90 * kMicrosPerSecond);
  b.mutable_column(1).append_bool(true);
  b.sync_num_rows();
  auto w = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  ASSERT_TRUE(w->write(b).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  EXPECT_EQ(query(db_, "SELECT d, ok, typeof(d) FROM t"), (std::vector<std::string>{"90000000|1|integer"}));
}

TEST_F(SqliteSinkTest, CapabilitiesAndDescriptionFollowThePrimaryKey) {
  auto upsert = factory({{"primary_key", "window_start,page"}});
  ASSERT_TRUE(upsert.is_ok());
  SinkCapabilities c = upsert.value()->capabilities();
  EXPECT_TRUE(c.upsert);
  EXPECT_EQ(c.primary_key, (std::vector<std::string>{"window_start", "page"}));
  EXPECT_EQ(c.guarantee, SinkGuarantee::kExactlyOnce);  // with checkpoints
  EXPECT_EQ(upsert.value()->describe(), "sqlite " + db_ + " table per_page (upsert on window_start,page)");

  auto single = factory({{"primary_key", ""}});
  ASSERT_TRUE(single.is_ok());
  EXPECT_TRUE(single.value()->capabilities().upsert);
  EXPECT_TRUE(single.value()->capabilities().primary_key.empty());
  EXPECT_EQ(single.value()->describe(), "sqlite " + db_ + " table per_page (upsert, single row)");

  auto append = factory({});
  ASSERT_TRUE(append.is_ok());
  EXPECT_FALSE(append.value()->capabilities().upsert);
  EXPECT_EQ(append.value()->capabilities().guarantee, SinkGuarantee::kExactlyOnce);
  EXPECT_EQ(append.value()->describe(), "sqlite " + db_ + " table per_page (append)");
}

}  // namespace
}  // namespace sluice
