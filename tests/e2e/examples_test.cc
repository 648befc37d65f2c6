// Every example pipeline in examples/ runs with its fixed generator seed, and its results
// are checked against an independent computation: the same source table is dumped raw into
// SQLite by a second job, and SQLite runs the equivalent batch query (GROUP BY, window
// functions for sessions) over those rows. Out-of-order events stay within the watermark
// delay, so the streaming results must equal the batch ones exactly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> query(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
    sqlite3_close(db);
    return rows;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const unsigned char* t = sqlite3_column_text(st, c);
      if (c) row += '|';
      row += t ? reinterpret_cast<const char*>(t) : "NULL";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Runs examples/NAME.sql in a fresh directory, plus a job that dumps its source table (the
// file's first statement, `clicks`) into raw.db table raw in arrival order.
class ExampleRun {
 public:
  explicit ExampleRun(const std::string& name) {
    std::string text = testing::read_file(std::string(SLUICE_SOURCE_DIR) + "/examples/" + name + ".sql");
    testing::write_file(dir_.file("job.sql"), text);
    size_t create = text.find("CREATE TABLE clicks");
    size_t end = text.find(";", create);
    std::string dump = text.substr(create, end - create + 1) +
                       "\nCREATE TABLE raw () WITH (connector = 'sqlite', path = 'raw.db', table = 'raw');\n"
                       "INSERT INTO raw SELECT * FROM clicks;\n";
    testing::write_file(dir_.file("dump.sql"), dump);
    auto a = testing::run_sluice("run -q job.sql", dir_.path());
    EXPECT_EQ(a.exit_code, 0) << a.output;
    auto b = testing::run_sluice("run -q dump.sql", dir_.path());
    EXPECT_EQ(b.exit_code, 0) << b.output;
  }
  std::string file(const std::string& f) const { return dir_.file(f); }

 private:
  testing::TempDir dir_;
};

// Event time in epoch milliseconds, from the TIMESTAMP text Sluice writes to SQLite.
const char* kMs = "CAST(ROUND((julianday(ts) - 2440587.5) * 86400000) AS INTEGER)";

TEST(ExamplesTest, PageViewsPerMinuteMatchBatchGroupBy) {
  ExampleRun run("demo");
  auto got = query(run.file("demo.db"), "SELECT window_start, page, views, users FROM page_minutes");
  auto want = query(run.file("raw.db"),
                    "SELECT strftime('%Y-%m-%d %H:%M:00', ts) AS w, page, COUNT(*), COUNT(DISTINCT user_id) "
                    "FROM raw WHERE page <> '/health' GROUP BY w, page");
  ASSERT_GT(want.size(), 1000u);
  EXPECT_EQ(got, want);
}

TEST(ExamplesTest, ActiveUsersPerMinuteMatchBatchGroupBy) {
  ExampleRun run("active_users");
  auto got = query(run.file("active_users.db"), "SELECT window_start, users FROM active_users");
  auto want = query(run.file("raw.db"),
                    "SELECT strftime('%Y-%m-%d %H:%M:00', ts) AS w, COUNT(DISTINCT user_id) FROM raw GROUP BY w");
  ASSERT_GT(want.size(), 10u);
  EXPECT_EQ(got, want);
}

TEST(ExamplesTest, SessionsMatchBatchSessionizationWithWindowFunctions) {
  ExampleRun run("sessions");
  auto got = query(run.file("sessions.db"),
                   "SELECT user_id, window_start, views, pages, "
                   "CAST(ROUND((julianday(window_end) - 2440587.5) * 86400000) AS INTEGER) - 1800000 FROM sessions");
  // A new session starts when the gap to the user's previous event exceeds 30 minutes;
  // pages in event-time order, ties by arrival (rowid).
  std::string batch = std::string("WITH e AS (SELECT rowid AS seq, user_id, page, ts, ") + kMs + " AS ms FROM raw), "
      "m AS (SELECT *, CASE WHEN ms - LAG(ms) OVER (PARTITION BY user_id ORDER BY ms, seq) > 1800000 THEN 1 ELSE 0 END "
      "AS brk FROM e), "
      "n AS (SELECT *, SUM(brk) OVER (PARTITION BY user_id ORDER BY ms, seq ROWS UNBOUNDED PRECEDING) AS sid FROM m) "
      "SELECT user_id, MIN(ts), COUNT(*), json_group_array(page), MAX(ms) "
      "FROM (SELECT * FROM n ORDER BY user_id, sid, ms, seq) GROUP BY user_id, sid";
  auto want = query(run.file("raw.db"), batch);
  ASSERT_GT(want.size(), 1000u);
  // The data must exercise both: users with several sessions, and sessions with many views.
  auto multi = query(run.file("sessions.db"), "SELECT COUNT(*) FROM (SELECT user_id FROM sessions GROUP BY user_id HAVING COUNT(*) > 1)");
  EXPECT_NE(multi.at(0), "0");
  EXPECT_EQ(got, want);
}

TEST(ExamplesTest, FunnelMatchesBatchAndBothSinksAgree) {
  ExampleRun run("funnel");
  auto got = query(run.file("funnel.db"), "SELECT window_start, home, product, cart, checkout FROM funnel");
  std::string batch = std::string("SELECT datetime((") + kMs + " / 300000) * 300, 'unixepoch') AS w, "
      "COUNT(DISTINCT CASE WHEN page = '/home' THEN user_id END), "
      "COUNT(DISTINCT CASE WHEN page LIKE '/product/%' THEN user_id END), "
      "COUNT(DISTINCT CASE WHEN page = '/cart' THEN user_id END), "
      "COUNT(DISTINCT CASE WHEN page = '/checkout' THEN user_id END) FROM raw GROUP BY w";
  auto want = query(run.file("raw.db"), batch);
  ASSERT_GT(want.size(), 5u);
  EXPECT_EQ(got, want);
  // The JSON-lines stream carries the same numbers, keyed by window end.
  auto table = query(run.file("funnel.db"), "SELECT window_end, home, product, cart, checkout FROM funnel");
  std::vector<std::string> stream;
  std::istringstream in(testing::read_file(run.file("funnel.jsonl")));
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    std::string at = j["at"].get<std::string>();
    at[10] = ' ';
    at.pop_back();  // ISO "...T...Z" -> SQLite text form
    std::string row = at;
    for (const char* field : {"home", "product", "cart", "checkout"}) {
      row += '|';
      row += std::to_string(j[field].get<int64_t>());
    }
    stream.push_back(row);
  }
  std::sort(stream.begin(), stream.end());
  EXPECT_EQ(stream, table);
}

}  // namespace
}  // namespace sluice
