// Differential tests of the time-bounded joins (interval and window joins, see
// operators/time_join.h): random streams with disorder (within the watermark delay, or
// beyond it for the late-data test) and NULL keys are joined by `sluice run` at parallelism 1
// and 4 and batch sizes 1, 7 and 4096; the output must equal a brute-force join of all rows
// (of the rows that are not late), and must be insert-only: an outer row without partner is
// emitted once the watermark closes its interval, never emitted and then retracted.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "join_test_util.h"

namespace sluice {
namespace {

using join_testing::check_join;
using join_testing::generate;
using join_testing::JoinRun;
using join_testing::Multiset;
using join_testing::out_row;
using join_testing::Row;

enum class Kind { kInner, kLeft, kRight, kFull };

// All rows of a join of `left` and `right` on equal (non-NULL) keys where `matches` holds;
// the rows of outer sides without partner padded with NULLs. `row(l, r)` renders one output
// row (l or r null on padded rows).
Multiset brute_force(const std::vector<Row>& left, const std::vector<Row>& right, Kind kind,
                     const std::function<bool(const Row&, const Row&)>& matches,
                     const std::function<std::string(const Row*, const Row*)>& row) {
  Multiset want;
  std::vector<int> right_matches(right.size());
  for (const auto& l : left) {
    int n = 0;
    for (size_t j = 0; j < right.size(); ++j) {
      const Row& r = right[j];
      if (l.k < 0 || l.k != r.k || !matches(l, r)) continue;
      ++n;
      ++right_matches[j];
      want[row(&l, &r)]++;
    }
    if (n == 0 && (kind == Kind::kLeft || kind == Kind::kFull)) want[row(&l, nullptr)]++;
  }
  for (size_t j = 0; j < right.size(); ++j) {
    if (right_matches[j] == 0 && (kind == Kind::kRight || kind == Kind::kFull)) want[row(nullptr, &right[j])]++;
  }
  return want;
}

std::string plain_row(const Row* l, const Row* r) { return out_row(l, r, r ? r->v : 0); }

const char* join_sql(Kind kind) {
  switch (kind) {
    case Kind::kInner: return "JOIN";
    case Kind::kLeft: return "LEFT JOIN";
    case Kind::kRight: return "RIGHT JOIN";
    case Kind::kFull: return "FULL JOIN";
  }
  return "";
}

JoinRun insert_only() {
  JoinRun run;
  run.insert_only = true;
  return run;
}

// ---- Interval joins

class IntervalJoinDifferentialTest : public ::testing::TestWithParam<Kind> {};

// r.ts BETWEEN l.ts - 5 s AND l.ts + 2 s, plus a residual on the values.
TEST_P(IntervalJoinDifferentialTest, BetweenBoundsMatchBruteForce) {
  const Kind kind = GetParam();
  const auto left = generate(51 + static_cast<int>(kind), 300);
  const auto right = generate(61 + static_cast<int>(kind), 300);
  auto matches = [](const Row& l, const Row& r) {
    return r.ts >= l.ts - 5 * kMicrosPerSecond && r.ts <= l.ts + 2 * kMicrosPerSecond && l.v != r.v;
  };
  check_join(left, right,
             fmt::format(R"(INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l {} r ON l.k = r.k
                AND r.ts BETWEEN l.ts - INTERVAL '5' SECOND AND l.ts + INTERVAL '2' SECOND AND l.v <> r.v;)",
                         join_sql(kind)),
             brute_force(left, right, kind, matches, plain_row), insert_only());
}

// Strict bounds written the other way round: l.ts > r.ts - 3 s AND l.ts < r.ts + 1 s.
TEST_P(IntervalJoinDifferentialTest, StrictBoundsMatchBruteForce) {
  const Kind kind = GetParam();
  const auto left = generate(71 + static_cast<int>(kind), 250);
  const auto right = generate(81 + static_cast<int>(kind), 250);
  auto matches = [](const Row& l, const Row& r) {
    return l.ts > r.ts - 3 * kMicrosPerSecond && l.ts < r.ts + 1 * kMicrosPerSecond;
  };
  check_join(left, right,
             fmt::format(R"(INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l {} r ON l.k = r.k
                AND l.ts > r.ts - INTERVAL '3' SECOND AND l.ts < r.ts + INTERVAL '1' SECOND;)",
                         join_sql(kind)),
             brute_force(left, right, kind, matches, plain_row), insert_only());
}

// One bound only (l.ts >= r.ts): left rows leave the state, right rows stay to the end.
TEST_P(IntervalJoinDifferentialTest, OneSidedBoundMatchesBruteForce) {
  const Kind kind = GetParam();
  const auto left = generate(91 + static_cast<int>(kind), 200, 3000, 40);
  const auto right = generate(101 + static_cast<int>(kind), 200, 3000, 40);
  auto matches = [](const Row& l, const Row& r) { return l.ts >= r.ts; };
  check_join(left, right,
             fmt::format("INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l {} r ON l.k = r.k AND l.ts >= r.ts;",
                         join_sql(kind)),
             brute_force(left, right, kind, matches, plain_row), insert_only());
}

INSTANTIATE_TEST_SUITE_P(AllKinds, IntervalJoinDifferentialTest,
                         ::testing::Values(Kind::kInner, Kind::kLeft, Kind::kRight, Kind::kFull));

// Rows behind their watermark on arrival go to the late-data output (counted there) and
// join nothing; the join of the other rows equals the brute force over them.
TEST(IntervalJoinLateRowsTest, LateRowsGoToTheLateOutputAndTheRestJoinsExactly) {
  auto left = generate(111, 300, 9000);
  auto right = generate(112, 300, 9000);
  // Late: event time before the source's watermark (max event time so far - 4 s) when the
  // row arrives.
  int late = 0;
  auto on_time = [&](const std::vector<Row>& rows) {
    std::vector<Row> kept;
    Micros max_ts = kMinWatermark;
    for (const Row& r : rows) {
      if (max_ts != kMinWatermark && r.ts < max_ts - 4 * kMicrosPerSecond) {
        ++late;
      } else {
        kept.push_back(r);
      }
      max_ts = std::max(max_ts, r.ts);
    }
    return kept;
  };
  const auto left_kept = on_time(left);
  const auto right_kept = on_time(right);
  ASSERT_GT(late, 10);
  auto matches = [](const Row& l, const Row& r) { return r.ts >= l.ts - 4 * kMicrosPerSecond && r.ts <= l.ts; };
  JoinRun run = insert_only();
  run.expected_late = late;
  check_join(left, right,
             R"(INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l FULL JOIN r ON l.k = r.k
                AND r.ts BETWEEN l.ts - INTERVAL '4' SECOND AND l.ts;)",
             brute_force(left_kept, right_kept, Kind::kFull, matches, plain_row), run);
}

// ---- Window joins

class WindowJoinDifferentialTest : public ::testing::TestWithParam<Kind> {};

// Start of the windows of `ts`: TUMBLE(size) or HOP(slide, size), aligned to the epoch.
std::vector<Micros> window_starts(Micros ts, Micros slide, Micros size) {
  std::vector<Micros> starts;
  Micros last = ts - ((ts % slide) + slide) % slide;
  for (Micros s = last; s > ts - size; s -= slide) starts.push_back(s);
  return starts;
}

// Brute force of a window join: both sides' rows of each window, joined on the key.
Multiset window_brute_force(const std::vector<Row>& left, const std::vector<Row>& right, Kind kind, Micros slide,
                            Micros size) {
  std::map<Micros, std::vector<Row>> lw, rw;
  for (const Row& r : left) {
    for (Micros s : window_starts(r.ts, slide, size)) lw[s].push_back(r);
  }
  for (const Row& r : right) {
    for (Micros s : window_starts(r.ts, slide, size)) rw[s].push_back(r);
  }
  Multiset want;
  std::set<Micros> starts;
  for (const auto& [s, rows] : lw) starts.insert(s);
  for (const auto& [s, rows] : rw) starts.insert(s);
  for (Micros s : starts) {
    auto row = [&](const Row* l, const Row* r) {
      // The file sink writes timestamps as ISO-8601 with T and Z.
      std::string iso = format_timestamp(s);
      std::replace(iso.begin(), iso.end(), ' ', 'T');
      auto ws = [&](const Row* x) { return x ? fmt::format("\"{}Z\"", iso) : std::string("null"); };
      std::string base = out_row(l, r, r ? r->v : 0);
      base.pop_back();
      return fmt::format("{},\"lws\":{},\"rws\":{}}}", base, ws(l), ws(r));
    };
    for (const auto& [k, v] : brute_force(lw[s], rw[s], kind, [](const Row&, const Row&) { return true; }, row)) {
      want[k] += v;
    }
  }
  return want;
}

JoinRun window_run() {
  JoinRun run = insert_only();
  run.out_columns = "lk BIGINT, v BIGINT, rk BIGINT, w BIGINT, lws TIMESTAMP, rws TIMESTAMP";
  return run;
}

TEST_P(WindowJoinDifferentialTest, TumbleWindowsMatchBruteForce) {
  const Kind kind = GetParam();
  const auto left = generate(121 + static_cast<int>(kind), 300);
  const auto right = generate(131 + static_cast<int>(kind), 300);
  check_join(left, right,
             fmt::format(R"(INSERT INTO out SELECT L.k, L.v, R.k, R.v, L.window_start, R.window_start
                FROM TUMBLE(l, ts, INTERVAL '10' SECOND) AS L {} TUMBLE(r, ts, INTERVAL '10' SECOND) AS R
                ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k;)",
                         join_sql(kind)),
             window_brute_force(left, right, kind, 10 * kMicrosPerSecond, 10 * kMicrosPerSecond), window_run());
}

TEST_P(WindowJoinDifferentialTest, HopWindowsMatchBruteForce) {
  const Kind kind = GetParam();
  const auto left = generate(141 + static_cast<int>(kind), 200);
  const auto right = generate(151 + static_cast<int>(kind), 200);
  check_join(left, right,
             fmt::format(R"(INSERT INTO out SELECT L.k, L.v, R.k, R.v, L.window_start, R.window_start
                FROM HOP(l, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) AS L {}
                     HOP(r, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) AS R
                ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k;)",
                         join_sql(kind)),
             window_brute_force(left, right, kind, 5 * kMicrosPerSecond, 10 * kMicrosPerSecond), window_run());
}

INSTANTIATE_TEST_SUITE_P(AllKinds, WindowJoinDifferentialTest,
                         ::testing::Values(Kind::kInner, Kind::kLeft, Kind::kRight, Kind::kFull));

// EXPLAIN names the join operator the planner chose for each form.
TEST(TimeJoinExplainTest, ExplainNamesTheChosenJoinOperator) {
  testing::TempDir dir;
  testing::write_file(dir.file("l.jsonl"), "");
  testing::write_file(dir.file("r.jsonl"), "");
  const std::string tables = R"(
      CREATE TABLE l (k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/l.jsonl',
        event_time = 'ts', watermark_delay = '4s');
      CREATE TABLE r (k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/r.jsonl',
        event_time = 'ts', watermark_delay = '4s');
      CREATE TABLE out (lk BIGINT, v BIGINT, rk BIGINT, w BIGINT)
        WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
  )";
  struct Case {
    const char* query;
    const char* want;
  } cases[] = {
      {"INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l LEFT JOIN r ON l.k = r.k AND l.ts = r.ts;",
       "IntervalJoin LEFT on [L$0 = R$0, L$2 = R$2], R$2 - L$2 in [0s, 0s]"},
      {"INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l, r WHERE l.k = r.k AND r.ts < l.ts + INTERVAL '1' MINUTE "
       "AND r.ts >= l.ts;",
       "IntervalJoin INNER on [L$0 = R$0], R$2 - L$2 in [0s, 59s999ms999us]"},
      {"INSERT INTO out SELECT L.k, L.v, R.k, R.v FROM TUMBLE(l, ts, INTERVAL '1' MINUTE) AS L FULL JOIN "
       "TUMBLE(r, ts, INTERVAL '1' MINUTE) AS R ON L.window_start = R.window_start AND L.window_end = R.window_end "
       "AND L.k = R.k;",
       "WindowJoin FULL on [L$3 = R$3, L$4 = R$4, L$0 = R$0], windows TUMBLE(size 1m)"},
      {"INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l JOIN r ON l.k = r.k AND l.v < r.v;", "INNER JOIN on [L$0 = R$0]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.query);
    testing::write_file(dir.file("job.sql"), testing::with_dir(tables + c.query, dir.path()));
    auto r = testing::run_sluice("explain job.sql", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(c.want), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace sluice
