// Differential tests of ROW_NUMBER top-N and deduplication. Random rows (with ties,
// disorder and re-delivered duplicates) are ranked per key; the final content of an upsert sink must equal a brute-force
// ranking (ties broken by arrival) for parallelism 1, 2 and 4 and several batch sizes.
// Also the per-window top-N over a windowed aggregation, which is insert-only.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/time_util.h"
#include "plan/physical_planner.h"
#include "runtime/job.h"
#include "sql/compiler.h"
#include "test_helpers.h"

namespace sluice {
namespace {

struct Row {
  int64_t k, v, id;
  Micros ts;
};

std::vector<Row> generate(uint64_t seed, int n) {
  testing::Rng rng{seed};
  std::vector<Row> rows;
  Micros t = 1700000000LL * kMicrosPerSecond;
  for (int i = 0; i < n; ++i) {
    t += rng.uniform(0, 2000) * kMicrosPerMilli;
    rows.push_back({rng.uniform(0, 9), rng.uniform(0, 40), i, t - rng.uniform(0, 5000) * kMicrosPerMilli});
    if (rng.chance(0.05)) rows.push_back(rows[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(rows.size()) - 1))]);  // duplicate
  }
  return rows;
}

using Table = std::map<std::vector<std::string>, std::vector<std::string>>;  // key columns -> other columns

Table read_table(const std::string& db_path, const std::string& sql, size_t key_columns) {
  Table t;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> key, rest;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const unsigned char* text = sqlite3_column_text(st, c);
      (static_cast<size_t>(c) < key_columns ? key : rest).push_back(text ? reinterpret_cast<const char*>(text) : "NULL");
    }
    EXPECT_EQ(t.count(key), 0u);
    t[key] = rest;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return t;
}

void run_job(const std::string& sql, int parallelism, size_t batch) {
  auto job = compile_sql(sql, "topn.sql");
  ASSERT_TRUE(job.is_ok()) << job.status().message();
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = batch;
  auto plan = plan_job(job.value(), po);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  Job running(std::move(plan.value().job));
  Status s = running.run();
  ASSERT_TRUE(s.is_ok()) << s.message();
}

const char* kSource = R"(
  CREATE TABLE src (k BIGINT, v BIGINT, id BIGINT, ts TIMESTAMP)
    WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', watermark_delay = '5 seconds',
          dlq = '{DIR}/dlq.jsonl', late_output = '{DIR}/late.jsonl');
)";

class TopNDifferentialTest : public ::testing::Test {
 protected:
  void write_input(const testing::TempDir& dir, const std::vector<Row>& rows) {
    std::string input;
    for (const auto& r : rows) {
      input += "{\"k\": " + std::to_string(r.k) + ", \"v\": " + std::to_string(r.v) + ", \"id\": " + std::to_string(r.id) +
               ", \"ts\": \"" + format_timestamp_iso(r.ts) + "\"}\n";
    }
    testing::write_file(dir.file("in.jsonl"), input);
  }

  // Runs `sql` at every parallelism and batch size and checks the table against `want`.
  void check(const std::vector<Row>& rows, const std::string& sql_body, const std::string& query, size_t key_columns,
             const Table& want) {
    for (int parallelism : {1, 2, 4}) {
      for (size_t batch : {1u, 16u, 4096u}) {
        SCOPED_TRACE(::testing::Message() << "parallelism " << parallelism << " batch " << batch);
        testing::TempDir dir;
        write_input(dir, rows);
        run_job(testing::with_dir(std::string(kSource) + sql_body, dir.path()), parallelism, batch);
        Table got = read_table(dir.file("out.db"), query, key_columns);
        EXPECT_EQ(got, want);
        if (HasFailure()) return;
      }
    }
  }
};

TEST_F(TopNDifferentialTest, TopThreePerKeyMatchesSortingEverything) {
  auto rows = generate(21, 2000);
  std::map<int64_t, std::vector<Row>> by_key;
  for (const auto& r : rows) by_key[r.k].push_back(r);
  Table want;
  for (auto& [k, list] : by_key) {
    std::stable_sort(list.begin(), list.end(), [](const Row& a, const Row& b) { return a.v > b.v; });
    for (size_t i = 0; i < 3 && i < list.size(); ++i) {
      want[{std::to_string(k), std::to_string(i + 1)}] = {std::to_string(list[i].v), std::to_string(list[i].id)};
    }
  }
  check(rows, R"(
    CREATE TABLE out (k BIGINT, rn BIGINT, v BIGINT, id BIGINT, PRIMARY KEY (k, rn))
      WITH (connector = 'sqlite', path = '{DIR}/out.db');
    INSERT INTO out SELECT k, rn, v, id FROM (
      SELECT k, v, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM src) AS ranked
    WHERE rn <= 3;)",
        "SELECT k, rn, v, id FROM out", 2, want);
}

TEST_F(TopNDifferentialTest, DeduplicationKeepsTheEarliestEventPerKey) {
  auto rows = generate(22, 2000);
  Table want;
  std::map<int64_t, Row> first;
  for (const auto& r : rows) {
    auto it = first.find(r.k);
    if (it == first.end() || r.ts < it->second.ts) first[r.k] = r;
  }
  for (const auto& [k, r] : first) want[{std::to_string(k)}] = {std::to_string(r.id), format_timestamp(r.ts)};
  check(rows, R"(
    CREATE TABLE out (k BIGINT PRIMARY KEY, id BIGINT, ts TIMESTAMP) WITH (connector = 'sqlite', path = '{DIR}/out.db');
    INSERT INTO out SELECT k, id, ts FROM (
      SELECT k, id, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM src) AS d
    WHERE rn = 1;)",
        "SELECT k, id, ts FROM out", 1, want);
}

TEST_F(TopNDifferentialTest, TopTwoKeysPerWindowByCount) {
  auto rows = generate(23, 3000);
  // Model: count per (1-minute window, k) of non-late rows, then the two largest per window
  // (ties: smaller k first, as ORDER BY n DESC, k says).
  const Micros size = kMicrosPerMinute, delay = 5 * kMicrosPerSecond;
  std::map<Micros, std::map<int64_t, int64_t>> counts;
  Micros max_ts = kMinWatermark;
  for (const auto& r : rows) {
    Micros start = floor_div(r.ts, size) * size;
    bool late = max_ts != kMinWatermark && start + size <= max_ts - delay;
    if (!late) counts[start][r.k]++;
    max_ts = std::max(max_ts, r.ts);
  }
  Table want;
  for (const auto& [start, per_key] : counts) {
    std::vector<std::pair<int64_t, int64_t>> v(per_key.begin(), per_key.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (size_t i = 0; i < 2 && i < v.size(); ++i) {
      want[{format_timestamp(start), std::to_string(i + 1)}] = {std::to_string(v[i].first), std::to_string(v[i].second)};
    }
  }
  check(rows, R"(
    CREATE VIEW per_key AS SELECT window_start, window_end, k, COUNT(*) AS n
      FROM TUMBLE(src, ts, INTERVAL '1 minute') GROUP BY window_start, window_end, k;
    CREATE TABLE out (window_start TIMESTAMP, rn BIGINT, k BIGINT, n BIGINT) WITH (connector = 'sqlite', path = '{DIR}/out.db');
    INSERT INTO out SELECT window_start, rn, k, n FROM (
      SELECT window_start, k, n, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC, k) AS rn
      FROM per_key) AS ranked
    WHERE rn <= 2;)",
        "SELECT window_start, rn, k, n FROM out", 2, want);
}

}  // namespace
}  // namespace sluice
