// The PostgreSQL sink against a real server (pg_test_server.h): types in and out, upserts
// with NULL keys and deletes, one global row, existing tables (other column types, a
// missing unique key, a missing column), option errors, a lost connection, and that the
// password never shows in an error.
#include "connectors/postgres/postgres_sink.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "connectors/postgres/pg_test_server.h"
#include "connectors/registry.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::PgTestServer;
using testing::sink_spec;

SchemaPtr schema() {
  return make_schema({{"region", TypeId::kString},
                      {"page", TypeId::kString},
                      {"views", TypeId::kInt64},
                      {"share", TypeId::kFloat64},
                      {"ok", TypeId::kBool},
                      {"ts", TypeId::kTimestamp}});
}

struct Row {
  const char* region;  // nullptr = NULL
  const char* page;
  int64_t views;
  RowKind kind = RowKind::kInsert;
};

RecordBatch batch(const std::vector<Row>& rows) {
  RecordBatch b(schema());
  for (const Row& r : rows) {
    for (int c = 0; c < 2; ++c) {
      const char* v = c == 0 ? r.region : r.page;
      if (v) {
        b.mutable_column(static_cast<size_t>(c)).append_string(v);
      } else {
        b.mutable_column(static_cast<size_t>(c)).append_null();
      }
    }
    b.mutable_column(2).append_int(r.views);
    b.mutable_column(3).append_double(static_cast<double>(r.views) / 4);
    b.mutable_column(4).append_int(r.views % 2);
    b.mutable_column(5).append_int(1767225600000000 + r.views * 1000000);  // 2026-01-01T00:00:00Z + views s
    b.row_kinds.push_back(r.kind);
  }
  b.sync_num_rows();
  return b;
}

class PostgresSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dsn_ = server().fresh_database(std::string("t_") + info->name());
  }
  static PgTestServer& server() { return PgTestServer::shared(); }
  Result<std::unique_ptr<SinkFactory>> factory(std::map<std::string, std::string> options) {
    options.emplace("dsn", dsn_);
    return make_sink_factory(sink_spec("postgres", std::move(options), schema(), "per_page"));
  }
  // Writes `batches` without checkpoints (each flushed), closes.
  void write(std::map<std::string, std::string> options, const std::vector<RecordBatch>& batches) {
    auto f = factory(std::move(options));
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    auto w = std::move(f.value()->create_writer()).value();
    ASSERT_TRUE(w->open().is_ok());
    for (const auto& b : batches) {
      ASSERT_TRUE(w->write(b).is_ok());
      Status s = w->flush();
      ASSERT_TRUE(s.is_ok()) << s.message();
    }
    ASSERT_TRUE(w->close().is_ok());
  }
  std::vector<std::string> rows(const std::string& sql = "SELECT region, page, views FROM per_page ORDER BY region "
                                                         "NULLS FIRST, page NULLS FIRST, views") {
    return server().query(dsn_, sql);
  }
  std::string dsn_;
};

TEST_F(PostgresSinkTest, CreatesTheTableWithMappedTypesAndAppendsEveryType) {
  write({{"create_table", "true"}}, {batch({{"eu", "/a", 1}, {nullptr, "/b", 2}}), batch({{"us", nullptr, 3}})});
  EXPECT_EQ(rows("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'per_page' "
                 "ORDER BY ordinal_position"),
            (std::vector<std::string>{"region|text", "page|text", "views|bigint", "share|double precision",
                                      "ok|boolean", "ts|timestamp with time zone"}));
  EXPECT_EQ(rows("SELECT region, page, views, share, ok, ts FROM per_page ORDER BY views"),
            (std::vector<std::string>{"eu|/a|1|0.25|t|2026-01-01 00:00:01+00", "NULL|/b|2|0.5|f|2026-01-01 00:00:02+00",
                                      "us|NULL|3|0.75|t|2026-01-01 00:00:03+00"}));
}

TEST_F(PostgresSinkTest, UpsertKeepsEachKeysLastChangeAndNullKeysAreOneKey) {
  const std::map<std::string, std::string> keyed{{"create_table", "true"}, {"primary_key", "region,page"}};
  const auto run = [&] {
    write(keyed, {batch({{nullptr, "/a", 1}, {"eu", nullptr, 1}, {nullptr, nullptr, 1}, {"eu", "/a", 1}}),
                  batch({{nullptr, "/a", 1, RowKind::kUpdateBefore},
                         {nullptr, "/a", 2, RowKind::kUpdateAfter},
                         {nullptr, nullptr, 1, RowKind::kUpdateBefore},
                         {nullptr, nullptr, 5, RowKind::kUpdateAfter},
                         {"eu", "/x", 7},
                         {"eu", "/x", 7, RowKind::kDelete}})});
  };
  run();
  const std::vector<std::string> expected{"NULL|NULL|5", "NULL|/a|2", "eu|NULL|1", "eu|/a|1"};
  EXPECT_EQ(rows(), expected);
  run();  // a rerun (an upsert sink without checkpoints is idempotent)
  EXPECT_EQ(rows(), expected);
  write(keyed, {batch({{"eu", nullptr, 1, RowKind::kDelete}, {nullptr, nullptr, 0, RowKind::kDelete}})});
  EXPECT_EQ(rows(), (std::vector<std::string>{"NULL|/a|2", "eu|/a|1"}));
}

// Issue 9 point 13 for an existing table whose unique index treats NULLs as distinct
// (PostgreSQL's default, where ON CONFLICT never fires for a NULL key): a NULL key is still
// one key, without checkpoints, in a rerun, and deleted.
const std::vector<RecordBatch>& null_key_changes() {
  static const std::vector<RecordBatch> changes{
      batch({{nullptr, "/a", 1}, {"eu", nullptr, 1}, {nullptr, nullptr, 1}, {"eu", "/a", 1}, {"eu", "/x", 7}}),
      batch({{nullptr, "/a", 1, RowKind::kUpdateBefore},
             {nullptr, "/a", 2, RowKind::kUpdateAfter},
             {nullptr, nullptr, 1, RowKind::kUpdateBefore},
             {nullptr, nullptr, 5, RowKind::kUpdateAfter},
             {"eu", nullptr, 1, RowKind::kDelete},
             {"eu", "/x", 7, RowKind::kDelete}})};
  return changes;
}
const std::vector<std::string> kNullKeyResult{"NULL|NULL|5", "NULL|/a|2", "eu|/a|1"};
constexpr const char* kNullsDistinctTable =
    "CREATE TABLE per_page (region TEXT, page TEXT, views BIGINT, share FLOAT8, ok BOOLEAN, ts TIMESTAMPTZ, UNIQUE "
    "(region, page))";

TEST_F(PostgresSinkTest, NullKeysAreOneKeyUnderAUniqueIndexThatTreatsNullsAsDistinct) {
  ASSERT_TRUE(server().exec(dsn_, kNullsDistinctTable).is_ok());
  const std::map<std::string, std::string> keyed{{"primary_key", "region,page"}};
  write(keyed, null_key_changes());
  EXPECT_EQ(rows(), kNullKeyResult);
  write(keyed, null_key_changes());  // a rerun (an upsert sink without checkpoints is idempotent)
  EXPECT_EQ(rows(), kNullKeyResult);
}

// The same with checkpoints: a crash after a pre-commit, a resume from an older checkpoint
// that replays committed changes, and a replayed commit all end with the same table.
TEST_F(PostgresSinkTest, NullKeysAreOneKeyUnderAUniqueIndexThatTreatsNullsAsDistinctWithCheckpoints) {
  ASSERT_TRUE(server().exec(dsn_, kNullsDistinctTable).is_ok());
  auto f = factory({{"primary_key", "region,page"}});
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  const auto writer = [&](uint64_t restored, const std::string& state, bool new_job,
                          const std::string& job = "0123456789abcdef0123456789abcdef") {
    auto w = std::move(f.value()->create_writer()).value();
    EXPECT_TRUE(w->open().is_ok());
    Status s = w->recover(SinkIdentity{job, "per_page.sink/0", new_job, false}, restored, state);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return w;
  };
  const auto checkpoint = [&](SinkWriter& w, uint64_t id, const RecordBatch& b) {
    EXPECT_TRUE(w.write(b).is_ok());
    auto state = w.pre_commit(id);
    EXPECT_TRUE(state.is_ok()) << state.status().message();
    Status s = w.commit(id);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return state.is_ok() ? state.value() : std::string();
  };
  std::string state1, state2;
  {
    auto w = writer(0, "", /*new_job=*/true);
    state1 = checkpoint(*w, 1, null_key_changes()[0]);
    ASSERT_TRUE(w->write(null_key_changes()[1]).is_ok());
    auto pre = w->pre_commit(2);  // checkpoint 2 is durable; the crash comes before its commit
    ASSERT_TRUE(pre.is_ok()) << pre.status().message();
    state2 = pre.value();
  }
  EXPECT_EQ(rows(), (std::vector<std::string>{"NULL|NULL|1", "NULL|/a|1", "eu|NULL|1", "eu|/a|1", "eu|/x|7"}));
  {
    auto w = writer(2, state2, false);  // recovery commits checkpoint 2
    ASSERT_TRUE(w->close().is_ok());
  }
  EXPECT_EQ(rows(), kNullKeyResult);
  {
    auto w = writer(1, state1, false);  // a savepoint before checkpoint 2: its changes come again
    checkpoint(*w, 2, null_key_changes()[1]);
    ASSERT_TRUE(w->close().is_ok());
  }
  EXPECT_EQ(rows(), kNullKeyResult);
  {
    // The whole job again, from the start, with a new checkpoint directory (a new job id).
    auto w = writer(0, "", /*new_job=*/true, "fedcba9876543210fedcba9876543210");
    checkpoint(*w, 1, null_key_changes()[0]);
    checkpoint(*w, 2, null_key_changes()[1]);
    ASSERT_TRUE(w->close().is_ok());
  }
  EXPECT_EQ(rows(), kNullKeyResult);
}

TEST_F(PostgresSinkTest, AnEmptyPrimaryKeyKeepsOneRow) {
  write({{"create_table", "true"}, {"primary_key", ""}},
        {batch({{"eu", "/a", 1}, {"eu", "/a", 1, RowKind::kUpdateBefore}, {"eu", "/a", 2, RowKind::kUpdateAfter}}),
         batch({{"eu", "/a", 3, RowKind::kUpdateAfter}})});
  EXPECT_EQ(rows(), (std::vector<std::string>{"eu|/a|3"}));
}

TEST_F(PostgresSinkTest, AnExistingTableWithOtherColumnTypesTakesTheRowsThroughCasts) {
  ASSERT_TRUE(server().exec(dsn_, "CREATE TABLE per_page (id SERIAL, region VARCHAR(8), page TEXT, views INTEGER, "
                                  "share REAL, ok BOOLEAN, ts TIMESTAMP, note TEXT DEFAULT 'x')")
                  .is_ok());
  write({}, {batch({{"eu", "/a", 1}, {"us", "/b", 2}})});
  EXPECT_EQ(rows("SELECT id, region, page, views, share, ts, note FROM per_page ORDER BY id"),
            (std::vector<std::string>{"1|eu|/a|1|0.25|2026-01-01 00:00:01|x", "2|us|/b|2|0.5|2026-01-01 00:00:02|x"}));
}

TEST_F(PostgresSinkTest, PlanningRefusesAMissingTableAColumnOrAUniqueKey) {
  auto missing = factory({});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos) << missing.status().message();
  EXPECT_NE(missing.status().message().find("create_table"), std::string::npos);

  ASSERT_TRUE(server().exec(dsn_, "CREATE TABLE per_page (region TEXT, page TEXT, views BIGINT, share FLOAT8, ok "
                                  "BOOLEAN)")
                  .is_ok());
  auto column = factory({});
  ASSERT_FALSE(column.is_ok());
  EXPECT_NE(column.status().message().find("has no column 'ts'"), std::string::npos) << column.status().message();

  ASSERT_TRUE(server().exec(dsn_, "ALTER TABLE per_page ADD COLUMN ts TIMESTAMPTZ").is_ok());
  auto key = factory({{"primary_key", "region,page"}});
  ASSERT_FALSE(key.is_ok());
  EXPECT_NE(key.status().message().find("no unique index"), std::string::npos) << key.status().message();
  // Any unique index on exactly the key columns will do, NULLS DISTINCT too (NULL keys are
  // then replaced explicitly: NullKeysAreOneKeyUnderAUniqueIndexThatTreatsNullsAsDistinct).
  ASSERT_TRUE(server().exec(dsn_, "CREATE UNIQUE INDEX ON per_page (page, region)").is_ok());
  EXPECT_TRUE(factory({{"primary_key", "region,page"}}).is_ok());
}

TEST_F(PostgresSinkTest, OptionErrorsNameTheOption) {
  auto no_dsn = make_sink_factory(sink_spec("postgres", {}, schema(), "per_page"));
  ASSERT_FALSE(no_dsn.is_ok());
  EXPECT_NE(no_dsn.status().message().find("dsn"), std::string::npos) << no_dsn.status().message();
  auto reserved = factory({{"table", "_sluice_commits"}});
  ASSERT_FALSE(reserved.is_ok());
  EXPECT_NE(reserved.status().message().find("reserved"), std::string::npos);
  auto bad_key = factory({{"create_table", "true"}, {"primary_key", "nope"}});
  ASSERT_FALSE(bad_key.is_ok());
  EXPECT_NE(bad_key.status().message().find("nope"), std::string::npos);
  auto unknown = factory({{"create_table", "true"}, {"tabel", "x"}});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("tabel"), std::string::npos);
}

TEST_F(PostgresSinkTest, TheTableMayBeSchemaQualified) {
  ASSERT_TRUE(server().exec(dsn_, "CREATE SCHEMA analytics").is_ok());
  write({{"create_table", "true"}, {"table", "analytics.per_page"}, {"primary_key", "region,page"}},
        {batch({{"eu", "/a", 1}})});
  EXPECT_EQ(rows("SELECT region, page, views FROM analytics.per_page"), (std::vector<std::string>{"eu|/a|1"}));
}

TEST_F(PostgresSinkTest, ThePasswordNeverShowsInAnError) {
  ASSERT_TRUE(server().exec(server().dsn(), "DO $$ BEGIN CREATE ROLE secretive LOGIN PASSWORD 'hunter2-secret'; "
                                            "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
                  .is_ok());
  // A server that is not there: the message names host and port, not the password.
  auto f = make_sink_factory(sink_spec(
      "postgres", {{"dsn", "postgresql://secretive:hunter2-secret@127.0.0.1:1/db"}, {"create_table", "true"}},
      schema(), "per_page"));
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().message().find("hunter2"), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("cannot connect"), std::string::npos) << f.status().message();
  // The password from an environment variable named in the options.
  ::setenv("SLUICE_TEST_PG_PASSWORD", "hunter2-secret", 1);
  auto ok = make_sink_factory(sink_spec("postgres",
                                        {{"dsn", dsn_ + "?user=secretive"},
                                         {"password_env", "SLUICE_TEST_PG_PASSWORD"},
                                         {"create_table", "true"}},
                                        schema(), "per_page"));
  EXPECT_TRUE(ok.is_ok()) << ok.status().message();
  auto unset = make_sink_factory(sink_spec(
      "postgres", {{"dsn", dsn_}, {"password_env", "SLUICE_TEST_PG_UNSET"}, {"create_table", "true"}}, schema(),
      "per_page"));
  ASSERT_FALSE(unset.is_ok());
  EXPECT_NE(unset.status().message().find("SLUICE_TEST_PG_UNSET"), std::string::npos);
}

// The server restarts (a crash, WAL replay) between two flushes: the writer reconnects and
// retries; every row lands once.
TEST_F(PostgresSinkTest, AServerRestartBetweenFlushesIsRetried) {
  auto f = factory({{"create_table", "true"}, {"primary_key", "region,page"}});
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto w = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  ASSERT_TRUE(w->write(batch({{"eu", "/a", 1}})).is_ok());
  ASSERT_TRUE(w->flush().is_ok());
  ASSERT_TRUE(server().restart_immediate().is_ok());
  ASSERT_TRUE(w->write(batch({{"eu", "/b", 2}})).is_ok());
  Status s = w->flush();
  ASSERT_TRUE(s.is_ok()) << s.message();
  ASSERT_TRUE(w->close().is_ok());
  EXPECT_EQ(rows(), (std::vector<std::string>{"eu|/a|1", "eu|/b|2"}));
}

}  // namespace
}  // namespace sluice
