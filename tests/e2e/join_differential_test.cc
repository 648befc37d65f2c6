// Differential tests of joins: random streams with disorder (event times moved back within
// the watermark delay) and NULL keys are joined by `sluice run` at parallelism 1 and 4 and
// several batch sizes; the changelog file sink, folded (+I adds a row, -D/-U removes one
// equal row, never one that is not there), must equal a brute-force join of all rows.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "join_test_util.h"

namespace sluice {
namespace {

using join_testing::check_join;
using join_testing::generate;
using join_testing::Multiset;
using join_testing::out_row;
using join_testing::Row;

// An interval-conditioned FULL OUTER JOIN: pairs with r.ts within 5 s before l.ts, and
// every row of either side without such a partner padded with NULLs.
TEST(JoinDifferentialTest, FullOuterJoinWithATimeBoundMatchesBruteForce) {
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
  check_join(left, right, R"(INSERT INTO out SELECT l.k, l.v, r.k, r.v FROM l FULL JOIN r
      ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '5' SECOND AND l.ts;)",
        want);
}

// A LEFT JOIN against an updating input (a GROUP BY result) with a residual condition on
// the aggregate: each left row ends joined with its key's final total when v < total.
TEST(JoinDifferentialTest, LeftJoinOfAnUpdatingAggregateMatchesBruteForce) {
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
  check_join(left, right, R"(INSERT INTO out SELECT l.k, l.v, g.k, g.total
      FROM l LEFT JOIN (SELECT k, SUM(v) AS total FROM r GROUP BY k) AS g ON l.k = g.k AND l.v < g.total;)",
        want);
}

}  // namespace
}  // namespace sluice
