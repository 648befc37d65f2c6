// End to end: the approximate aggregates against their exact counterparts on the
// generator's clickstream, through SQL, the planner and the runtime (parallelism 1 and 4).
// APPROX_COUNT_DISTINCT must be within 3 standard errors (1.04 / sqrt(2^14) = 0.81%) of
// COUNT(DISTINCT), and exact below 768 distinct values; APPROX_PERCENTILE within its 1%
// relative accuracy of PERCENTILE.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace sluice {
namespace {

std::vector<std::vector<std::string>> query(const std::string& db_path, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path;
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row.push_back(t ? reinterpret_cast<const char*>(t) : "NULL");
      }
      rows.push_back(row);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return rows;
}

constexpr double kStandardError = 0.008125;  // 1.04 / sqrt(16384)

void expect_close_count(const std::string& what, const std::string& exact_text, const std::string& approx_text,
                        double* worst) {
  const double exact = std::stod(exact_text), approx = std::stod(approx_text);
  if (exact <= 768) {
    EXPECT_EQ(approx, exact) << what << ": small sets are counted exactly";
    return;
  }
  const double err = std::fabs(approx - exact) / exact;
  *worst = std::max(*worst, err);
  EXPECT_LE(err, 3 * kStandardError) << what << ": exact " << exact << ", approx " << approx;
}

class ApproxAggregatesTest : public ::testing::TestWithParam<int> {};

TEST_P(ApproxAggregatesTest, MatchExactAggregatesWithinTheirBounds) {
  testing::TempDir dir;
  const std::string job = testing::with_dir(R"(
SET parallelism = )" + std::to_string(GetParam()) + R"(;
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP, event_type TEXT, session_id BIGINT, amount DOUBLE)
  WITH (connector = 'generator', events = '1000000', users = '1000000', pages = '100000', seed = '7',
        interval = '1ms', event_time = 'ts');
CREATE TABLE totals WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = '') AS
SELECT COUNT(DISTINCT ts) AS ts_exact, APPROX_COUNT_DISTINCT(ts) AS ts_approx,
       COUNT(DISTINCT user_id) AS users_exact, APPROX_COUNT_DISTINCT(user_id) AS users_approx,
       COUNT(DISTINCT session_id) AS sessions_exact, APPROX_COUNT_DISTINCT(session_id) AS sessions_approx,
       COUNT(DISTINCT page) AS pages_exact, APPROX_COUNT_DISTINCT(page) AS pages_approx,
       COUNT(DISTINCT page) FILTER (WHERE event_type = 'add_to_cart') AS carted_exact,
       APPROX_COUNT_DISTINCT(page) FILTER (WHERE event_type = 'add_to_cart') AS carted_approx,
       PERCENTILE(amount, 0.5) AS p50, APPROX_PERCENTILE(amount, 0.5) AS ap50,
       PERCENTILE(amount, 0.99) AS p99, APPROX_PERCENTILE(amount, 0.99) AS ap99
FROM clicks;
CREATE TABLE per_window WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'window_start') AS
SELECT window_start, COUNT(DISTINCT ts) AS ts_exact, APPROX_COUNT_DISTINCT(ts) AS ts_approx,
       COUNT(DISTINCT user_id) AS users_exact, APPROX_COUNT_DISTINCT(user_id) AS users_approx
FROM TUMBLE(clicks, ts, INTERVAL '10 seconds') GROUP BY window_start, window_end;
)",
                                            dir.path());
  testing::write_file(dir.file("job.sql"), job);
  auto r = testing::run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;

  double worst = 0;
  auto totals = query(dir.file("out.db"), "SELECT * FROM totals");
  ASSERT_EQ(totals.size(), 1u);
  const auto& t = totals[0];
  EXPECT_EQ(t[0], "1000000");  // one event per millisecond: every ts distinct
  expect_close_count("ts", t[0], t[1], &worst);
  expect_close_count("user_id", t[2], t[3], &worst);
  expect_close_count("session_id", t[4], t[5], &worst);
  expect_close_count("page", t[6], t[7], &worst);
  expect_close_count("page FILTER add_to_cart", t[8], t[9], &worst);
  for (int i : {10, 12}) {
    const double exact = std::stod(t[static_cast<size_t>(i)]), approx = std::stod(t[static_cast<size_t>(i) + 1]);
    EXPECT_LE(std::fabs(approx - exact), 0.01 * std::fabs(exact)) << "percentile column " << i;
  }

  auto windows = query(dir.file("out.db"), "SELECT * FROM per_window ORDER BY window_start");
  EXPECT_EQ(windows.size(), 100u);
  for (const auto& w : windows) {
    EXPECT_EQ(w[1], "10000") << w[0];
    expect_close_count("ts in " + w[0], w[1], w[2], &worst);
    expect_close_count("user_id in " + w[0], w[3], w[4], &worst);
  }
  std::printf("APPROX_COUNT_DISTINCT: worst relative error %.3f%% (3 standard errors = %.3f%%)\n", worst * 100,
              3 * kStandardError * 100);
}

INSTANTIATE_TEST_SUITE_P(Parallelism, ApproxAggregatesTest, ::testing::Values(1, 4));

}  // namespace
}  // namespace sluice
