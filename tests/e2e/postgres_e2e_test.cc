// The PostgreSQL sink as a user meets it (issue 12), against a PostgreSQL server the test
// starts (connectors/postgres/pg_test_server.h): `sluice run` jobs whose windowed results
// (append) and updating results (GROUP BY ... HAVING: rows come, change and go) land in
// PostgreSQL exactly as in the SQLite sink of the same query, with and without
// checkpoints; a rerun whose checkpoint directory was deleted is refused until --start-over;
// `sluice validate` refuses a missing table; and no secret reaches the log.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "connectors/postgres/pg_test_server.h"
#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::PgTestServer;
using testing::TempDir;

// Clicks with values that go up and down per user, so HAVING keys qualify, stop qualifying
// and qualify again.
const char* kInput = R"(
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP, amount DOUBLE)
  WITH (connector = 'generator', seed = '7', events = '20000', users = '40', pages = '12',
        out_of_order = '0.05', max_out_of_orderness = '2 seconds', event_time = 'ts',
        watermark_delay = '2 seconds');
)";

const char* kQueries = R"(
INSERT INTO {P}_windows
SELECT window_start, page, COUNT(*) AS clicks, COUNT(DISTINCT user_id) AS users
FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start, window_end, page;
INSERT INTO {P}_spenders
SELECT user_id, COUNT(*) AS n, SUM(amount) AS total
FROM clicks GROUP BY user_id HAVING COUNT(*) % 3 <> 0;
)";

std::string replace_all(std::string s, const std::string& what, const std::string& with) {
  for (size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size()) s.replace(pos, what.size(), with);
  return s;
}

class PostgresJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dsn_ = PgTestServer::shared().fresh_database(std::string("e2e_") + info->name());
  }
  // The job: the same queries into PostgreSQL (pg_*) and SQLite (lite_*).
  std::string job() const {
    std::string sql = kInput;
    sql += "CREATE TABLE pg_windows (window_start TIMESTAMP, page TEXT, clicks BIGINT, users BIGINT) WITH (connector "
           "= 'postgres', dsn = '" + dsn_ + "', table = 'windows', create_table = 'true');\n";
    sql += "CREATE TABLE pg_spenders (user_id BIGINT, n BIGINT, total DOUBLE) WITH (connector = 'postgres', dsn = '" +
           dsn_ + "', table = 'spenders', create_table = 'true', primary_key = 'user_id');\n";
    sql += "CREATE TABLE lite_windows (window_start TIMESTAMP, page TEXT, clicks BIGINT, users BIGINT) WITH (connector "
           "= 'sqlite', path = 'out.db', table = 'windows');\n";
    sql += "CREATE TABLE lite_spenders (user_id BIGINT, n BIGINT, total DOUBLE) WITH (connector = 'sqlite', path = "
           "'out.db', table = 'spenders', primary_key = 'user_id');\n";
    sql += replace_all(kQueries, "{P}", "pg") + replace_all(kQueries, "{P}", "lite");
    return sql;
  }
  void expect_postgres_equals_sqlite() {
    auto& pg = PgTestServer::shared();
    const auto windows = pg.query(dsn_, "SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || "
                                        "'|' || page || '|' || clicks || '|' || users FROM windows ORDER BY 1");
    const auto lite_windows = testing::sqlite_query_rows(
        dir_.file("out.db"), "SELECT window_start || '|' || page || '|' || clicks || '|' || users FROM windows ORDER BY 1");
    EXPECT_GT(windows.size(), 50u);
    EXPECT_EQ(windows, lite_windows);
    const auto spenders =
        pg.query(dsn_, "SELECT user_id || '|' || n || '|' || coalesce(round(total::numeric, 6)::text, 'NULL') FROM "
                       "spenders ORDER BY user_id");
    const auto lite_spenders = testing::sqlite_query_rows(
        dir_.file("out.db"), "SELECT user_id || '|' || n || '|' || CASE WHEN total IS NULL THEN 'NULL' ELSE printf('%.6f', total) END "
                             "FROM spenders ORDER BY user_id");
    EXPECT_GT(spenders.size(), 5u);
    EXPECT_EQ(spenders, lite_spenders);
  }
  TempDir dir_;
  std::string dsn_;
};

TEST_F(PostgresJobTest, WindowedAndUpdatingResultsEqualTheSqliteSinks) {
  testing::write_file(dir_.file("job.sql"), job());
  auto r = testing::run_sluice("run -q job.sql", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_postgres_equals_sqlite();
}

TEST_F(PostgresJobTest, WithCheckpointsEveryRowLandsOnceAndCommitsAreRecorded) {
  testing::write_file(dir_.file("job.sql"), job());
  auto r = testing::run_sluice("run -q job.sql --checkpoint-dir ck --checkpoint-interval 20ms -p 2", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_postgres_equals_sqlite();
  auto records = PgTestServer::shared().query(
      dsn_, "SELECT table_name, checkpoint_id > 0 FROM _sluice_commits ORDER BY table_name, sink_id");
  ASSERT_FALSE(records.empty());
  for (const auto& rec : records) EXPECT_NE(rec.find("|t"), std::string::npos) << rec;
}

// Issue 9 point 6: the whole checkpoint directory deleted after the job committed. The
// rerun has a new job id, but the commit records name the directory: refused (the append
// table would get its rows twice), and --start-over rolls them back and loads them once.
TEST_F(PostgresJobTest, ADeletedCheckpointDirectoryIsRefusedUntilStartOver) {
  testing::write_file(dir_.file("job.sql"), job());
  auto first = testing::run_sluice("run -q job.sql --checkpoint-dir ck -p 2", dir_.path());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto& pg = PgTestServer::shared();
  const auto windows = pg.query(dsn_, "SELECT count(*) FROM windows");
  std::filesystem::remove_all(dir_.file("ck"));
  auto refused = testing::run_sluice("run -q job.sql --checkpoint-dir ck -p 2", dir_.path());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("deleted or replaced"), std::string::npos) << refused.output;
  EXPECT_EQ(pg.query(dsn_, "SELECT count(*) FROM windows"), windows);
  auto over = testing::run_sluice("run -q job.sql --checkpoint-dir ck -p 2 --start-over", dir_.path());
  ASSERT_EQ(over.exit_code, 0) << over.output;
  expect_postgres_equals_sqlite();
  EXPECT_EQ(pg.query(dsn_, "SELECT count(*) FROM windows"), windows);
}

TEST_F(PostgresJobTest, ValidateRefusesAMissingTableAndNamesTheWayOut) {
  testing::write_file(dir_.file("job.sql"),
                      std::string(kInput) + "CREATE TABLE out (page TEXT, n BIGINT) WITH (connector = 'postgres', dsn "
                                            "= '" + dsn_ + "', table = 'nope');\nINSERT INTO out SELECT page, "
                                            "COUNT(*) FROM clicks GROUP BY page;\n");
  auto r = testing::run_sluice("validate job.sql", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("postgres table 'nope' does not exist"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("create_table"), std::string::npos) << r.output;
}

TEST_F(PostgresJobTest, AWrongPasswordFailsWithoutShowingIt) {
  auto& pg = PgTestServer::shared();
  ASSERT_TRUE(pg.exec(pg.dsn(), "DO $$ BEGIN CREATE ROLE e2e_user LOGIN PASSWORD 'right-pass'; EXCEPTION WHEN "
                                "duplicate_object THEN NULL; END $$")
                  .is_ok());
  testing::write_file(dir_.file("job.sql"),
                      std::string(kInput) + "CREATE TABLE out (page TEXT, n BIGINT) WITH (connector = 'postgres', dsn "
                                            "= 'postgresql://e2e_user:s3cret-wrong@127.0.0.1:1/x', create_table = "
                                            "'true');\nINSERT INTO out SELECT page, COUNT(*) FROM clicks GROUP BY "
                                            "page;\n");
  auto r = testing::run_sluice("run -q job.sql", dir_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("cannot connect to PostgreSQL"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("s3cret-wrong"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sluice
