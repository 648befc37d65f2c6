// Lateness of window top-N (issue 9, point 11): rows ranked per TUMBLE/HOP window without
// aggregation are judged late exactly like the same rows under GROUP BY window_start,
// window_end — per row, with the row's own watermark — so both query shapes send the same
// number of records to the late-data output (equal to a brute-force model), and a late row
// never re-ranks a window that has already been emitted: the final top-N per window equals
// the model's ranking of the rows each window accepted, at parallelism 1, 2, 4 and batch
// sizes 1, 7, 4096.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/time_util.h"
#include "operators/window_spec.h"
#include "plan/physical_planner.h"
#include "runtime/job.h"
#include "sql/compiler.h"
#include "test_helpers.h"

namespace sluice {
namespace {

constexpr Micros kBase = 1700000000LL * kMicrosPerSecond;
constexpr Micros kSecond = kMicrosPerSecond;
constexpr Micros kDelay = 2 * kSecond;

struct Event {
  int64_t k = 0, v = 0;
  Micros ts = 0;
};

std::vector<Event> generate(uint64_t seed, int n) {
  testing::Rng rng{seed};
  std::vector<Event> out;
  Micros now = kBase;
  for (int i = 0; i < n; ++i) {
    now += rng.uniform(0, 800) * kMicrosPerMilli;
    Event e{rng.uniform(0, 4), rng.uniform(0, 50), now};
    if (rng.chance(0.3)) e.ts -= rng.uniform(0, 3000) * kMicrosPerMilli;
    if (rng.chance(0.06)) e.ts -= rng.uniform(5, 40) * kSecond;  // late for some or all windows
    out.push_back(e);
  }
  return out;
}

struct Model {
  uint64_t late = 0;          // records behind all of their windows
  uint64_t partly_late = 0;   // HOP records with some windows closed, some open
  std::map<std::tuple<Micros, int64_t>, std::tuple<int64_t, int64_t>> top;  // (window_start, rn) -> (k, v)
};

// Row watermark = max event time before the row - delay. A window accepts a row while its
// end > the row's watermark; a record whose every window is closed is late. Each window
// ranks its rows by v descending, ties by arrival, and keeps `limit`.
Model model(const std::vector<Event>& events, const WindowSpec& w, int64_t limit) {
  Model m;
  std::map<Micros, std::vector<std::pair<int64_t, int64_t>>> rows;  // window start -> (k, v) in arrival order
  Micros max_ts = kMinWatermark;
  for (const auto& e : events) {
    const Micros wm = max_ts == kMinWatermark ? kMinWatermark : max_ts - kDelay;
    max_ts = std::max(max_ts, e.ts);
    int open = 0, closed = 0;
    w.for_each_window(e.ts, [&](Micros start) {
      if (start + w.size <= wm) {
        ++closed;
        return;
      }
      ++open;
      rows[start].push_back({e.k, e.v});
    });
    if (open == 0) ++m.late;
    if (open > 0 && closed > 0) ++m.partly_late;
  }
  for (auto& [start, list] : rows) {
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (int64_t i = 0; i < limit && i < static_cast<int64_t>(list.size()); ++i) {
      m.top[{start, i + 1}] = {list[static_cast<size_t>(i)].first, list[static_cast<size_t>(i)].second};
    }
  }
  return m;
}

// Runs `sql`; returns the number of records in the late-data output.
uint64_t run(const std::string& sql, int parallelism, size_t batch) {
  auto job = compile_sql(sql, "topn_late.sql");
  EXPECT_TRUE(job.is_ok()) << job.status().message();
  if (!job.is_ok()) return 0;
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = batch;
  auto plan = plan_job(job.value(), po);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  if (!plan.is_ok()) return 0;
  Job running(std::move(plan.value().job));
  Status s = running.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  uint64_t late = 0;
  for (const auto& side : plan.value().side_outputs) {
    if (side.kind == "late data") late += side.queue->count();
  }
  return late;
}

struct Case {
  std::string name;
  std::string window_sql;  // the table function over src
  WindowSpec window;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class WindowTopNLatenessTest : public ::testing::TestWithParam<Case> {};

TEST_P(WindowTopNLatenessTest, LateRowsGoToTheLateOutputLikeUnderGroupBy) {
  const Case& c = GetParam();
  const auto events = generate(7, 1200);
  const Model want = model(events, c.window, 3);
  ASSERT_GT(want.late, 10u);
  if (c.window.kind == WindowSpec::Kind::kHop) {
    ASSERT_GT(want.partly_late, 0u);
  }
  std::string input;
  for (const auto& e : events) {
    input += "{\"k\": " + std::to_string(e.k) + ", \"v\": " + std::to_string(e.v) + ", \"ts\": \"" +
             format_timestamp_iso(e.ts) + "\"}\n";
  }
  const std::string source =
      "CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/in.jsonl', "
      "event_time = 'ts', watermark_delay = '2 seconds', late_output = '{DIR}/late.jsonl');\n";
  for (int parallelism : {1, 2, 4}) {
    for (size_t batch : {1u, 7u, 4096u}) {
      SCOPED_TRACE(::testing::Message() << c.name << " parallelism " << parallelism << " batch " << batch);
      testing::TempDir dir;
      testing::write_file(dir.file("in.jsonl"), input);
      const std::string aggregate = testing::with_dir(
          source +
              "CREATE TABLE out (window_start TIMESTAMP, k BIGINT, n BIGINT) WITH (connector = 'sqlite', "
              "path = '{DIR}/agg.db', primary_key = 'window_start,k');\n"
              "INSERT INTO out SELECT window_start, k, COUNT(*) FROM " +
              c.window_sql + " GROUP BY window_start, window_end, k;\n",
          dir.path());
      EXPECT_EQ(run(aggregate, parallelism, batch), want.late) << "GROUP BY window";
      const std::string top_n = testing::with_dir(
          source +
              "CREATE TABLE out (window_start TIMESTAMP, rn BIGINT, k BIGINT, v BIGINT) WITH (connector = 'sqlite', "
              "path = '{DIR}/top.db', primary_key = 'window_start,rn');\n"
              "INSERT INTO out SELECT window_start, rn, k, v FROM (SELECT window_start, window_end, k, v, "
              "ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY v DESC) AS rn FROM " +
              c.window_sql + ") AS ranked WHERE rn <= 3;\n",
          dir.path());
      EXPECT_EQ(run(top_n, parallelism, batch), want.late) << "window top-N";
      // The final ranking of every window: late rows did not re-rank closed windows.
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(dir.file("top.db").c_str(), &db), SQLITE_OK);
      sqlite3_stmt* st = nullptr;
      ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT window_start, rn, k, v FROM out", -1, &st, nullptr), SQLITE_OK);
      std::map<std::tuple<Micros, int64_t>, std::tuple<int64_t, int64_t>> got;
      while (sqlite3_step(st) == SQLITE_ROW) {
        Micros ws = parse_timestamp(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))).value();
        got[{ws, sqlite3_column_int64(st, 1)}] = {sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3)};
      }
      sqlite3_finalize(st);
      sqlite3_close(db);
      EXPECT_EQ(got.size(), want.top.size());
      for (const auto& [key, row] : want.top) {
        auto it = got.find(key);
        if (it == got.end()) {
          ADD_FAILURE() << "missing window " << format_timestamp(std::get<0>(key)) << " rn " << std::get<1>(key);
          continue;
        }
        EXPECT_EQ(it->second, row) << "window " << format_timestamp(std::get<0>(key)) << " rn " << std::get<1>(key);
      }
      if (::testing::Test::HasFailure()) return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Windows, WindowTopNLatenessTest,
    ::testing::Values(Case{"tumble", "TUMBLE(src, ts, INTERVAL '10 seconds')",
                           {WindowSpec::Kind::kTumble, 10 * kSecond, 10 * kSecond, 0}},
                      Case{"hop", "HOP(src, ts, INTERVAL '5 seconds', INTERVAL '15 seconds')",
                           {WindowSpec::Kind::kHop, 15 * kSecond, 5 * kSecond, 0}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace sluice
