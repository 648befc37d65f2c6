// Differential tests of joins: random streams with disorder (event times moved back within
// the watermark delay) and NULL keys are joined by `sluice run` at parallelism 1 and 4 and
// several batch sizes; the changelog file sink, folded (+I adds a row, -D/-U removes one
// equal row, never one that is not there), must equal a brute-force join of all rows.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/time_util.h"
#include "join_differential.h"
#include "test_helpers.h"

namespace sluice {
namespace {

struct Row {
  int64_t k;  // -1: NULL
  int64_t v;
  Micros ts;
};

std::vector<Row> generate(uint64_t seed, int n) {
  testing::Rng rng{seed};
  std::vector<Row> rows;
  Micros t = 1700000000LL * kMicrosPerSecond;
  for (int i = 0; i < n; ++i) {
    t += rng.uniform(0, 1500) * kMicrosPerMilli;
    const int64_t k = rng.chance(0.05) ? -1 : rng.uniform(0, 12);
    rows.push_back({k, rng.uniform(0, 30), t - rng.uniform(0, 3000) * kMicrosPerMilli});
  }
  return rows;
}

std::string key_text(int64_t k) { return k < 0 ? "null" : std::to_string(k); }

std::string jsonl(const std::vector<Row>& rows) {
  std::string out;
  for (const auto& r : rows) {
    out += fmt::format("{{\"k\": {}, \"v\": {}, \"ts\": \"{}\"}}\n", key_text(r.k), r.v, format_timestamp(r.ts));
  }
  return out;
}

using testing::Multiset;

std::string out_row(const Row* l, const Row* r, int64_t r_value) {
  auto side = [](const char* k, const char* v, const Row* x, int64_t value) {
    if (!x) return fmt::format("\"{}\":null,\"{}\":null", k, v);
    return fmt::format("\"{}\":{},\"{}\":{}", k, key_text(x->k), v, value);
  };
  return fmt::format("{{{},{}}}", side("lk", "v", l, l ? l->v : 0), side("rk", "w", r, r_value));
}

class JoinDifferentialTest : public ::testing::Test {
 protected:
  void check(const std::vector<Row>& left, const std::vector<Row>& right, const std::string& query, const Multiset& want) {
    testing::TempDir dir;
    testing::write_file(dir.file("l.jsonl"), jsonl(left));
    testing::write_file(dir.file("r.jsonl"), jsonl(right));
    const std::string sql = testing::with_dir(R"(
      CREATE TABLE l (k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/l.jsonl',
        event_time = 'ts', watermark_delay = '4s');
      CREATE TABLE r (k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/r.jsonl',
        event_time = 'ts', watermark_delay = '4s');
      CREATE TABLE out (lk BIGINT, v BIGINT, rk BIGINT, w BIGINT)
        WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
    )" + query, dir.path());
    testing::write_file(dir.file("job.sql"), sql);
    testing::expect_at_every_parallelism(dir, "out.jsonl", want);
  }
};

// An interval-conditioned FULL OUTER JOIN: pairs with r.ts within 5 s before l.ts, and
// every row of either side without such a partner padded with NULLs.
TEST_F(JoinDifferentialTest, FullOuterJoinWithATimeBoundMatchesBruteForce) {
  const auto left = generate(31, 300);
  const auto right = generate(32, 300);
  Multiset want;
  std::vector<int> rmatch(right.size());
  for (const auto& l : left) {
    int matches = 0;
    for (size_t j = 0; j < right.size(); ++j) {
      const Row& r = right[j];
      if (l.k < 0 || l.k != r.k || r.ts < l.ts - 5 * kMicrosPerSecond || r.ts > l.ts) continue;
      ++matches;
      ++rmatch[j];
      want[out_row(&l, &r, r.v)]++;
    }
    if (matches == 0) want[out_row(&l, nullptr, 0)]++;
  }
  for (size_t j = 0; j < right.size(); ++j) {
    if (rmatch[j] == 0) want[out_row(nullptr, &right[j], right[j].v)]++;
  }
  check(left, right, R"(INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l FULL JOIN r
      ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '5' SECOND AND l.ts;)",
        want);
}

// A LEFT JOIN against an updating input (a GROUP BY result) with a residual condition on
// the aggregate: each left row ends joined with its key's final total when v < total.
TEST_F(JoinDifferentialTest, LeftJoinOfAnUpdatingAggregateMatchesBruteForce) {
  const auto left = generate(41, 250);
  const auto right = generate(42, 250);
  std::map<int64_t, int64_t> total;
  for (const auto& r : right) total[r.k] += r.v;  // key -1 is the NULL group
  Multiset want;
  for (const auto& l : left) {
    auto it = total.find(l.k);
    if (l.k >= 0 && it != total.end() && l.v < it->second) {
      Row g{l.k, 0, 0};
      want[out_row(&l, &g, it->second)]++;
    } else {
      want[out_row(&l, nullptr, 0)]++;
    }
  }
  check(left, right, R"(INSERT INTO out SELECT l.k, l.v, g.k, g.total
      FROM l LEFT JOIN (SELECT k, SUM(v) AS total FROM r GROUP BY k) AS g ON l.k = g.k AND l.v < g.total;)",
        want);
}

}  // namespace
}  // namespace sluice
