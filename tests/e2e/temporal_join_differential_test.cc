// Differential tests of the event-time temporal join (JOIN versioned(table, ts)): random
// version and probe streams with disorder within the watermark delay and NULL keys are
// joined by `sluice run` at parallelism 1 and 4 and batch sizes 1, 7 and 4096; the output
// must equal a brute-force answer: each probe row joined with the version of its key valid
// at its event time (the newest starting at or before it; the later row among equal starts).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/time_util.h"
#include "join_differential.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::Multiset;

struct Row {
  int64_t id;
  int64_t k;  // -1: NULL
  int64_t v;
  Micros ts;
};

constexpr Micros kStart = 1700000000LL * kMicrosPerSecond;

// Rows over about `n` * 0.75 s, each moved back by up to 3 s (the watermark delay is 4 s).
std::vector<Row> generate(uint64_t seed, int n, int keys, double null_keys) {
  testing::Rng rng{seed};
  std::vector<Row> rows;
  Micros t = kStart;
  for (int i = 0; i < n; ++i) {
    t += rng.uniform(0, 1500) * kMicrosPerMilli;
    const int64_t k = rng.chance(null_keys) ? -1 : rng.uniform(0, keys - 1);
    rows.push_back({i, k, rng.uniform(0, 30), t - rng.uniform(0, 3000) * kMicrosPerMilli});
  }
  return rows;
}

std::string key_text(int64_t k) { return k < 0 ? "null" : std::to_string(k); }

std::string jsonl(const std::vector<Row>& rows) {
  std::string out;
  for (const auto& r : rows) {
    out += fmt::format("{{\"id\": {}, \"k\": {}, \"v\": {}, \"ts\": \"{}\"}}\n", r.id, key_text(r.k), r.v,
                       format_timestamp(r.ts));
  }
  return out;
}

// The version of `o`'s key valid at its time, or null.
const Row* version_at(const std::vector<Row>& versions, const Row& o) {
  const Row* best = nullptr;
  for (const Row& v : versions) {
    if (o.k < 0 || v.k != o.k || v.ts > o.ts) continue;
    if (!best || v.ts >= best->ts) best = &v;  // file order: the later row wins at equal starts
  }
  return best;
}

class TemporalJoinDifferentialTest : public ::testing::Test {
 protected:
  void check(const std::vector<Row>& orders, const std::vector<Row>& rates, const std::string& query,
             const Multiset& want) {
    testing::TempDir dir;
    testing::write_file(dir.file("orders.jsonl"), jsonl(orders));
    testing::write_file(dir.file("rates.jsonl"), jsonl(rates));
    const std::string sql = testing::with_dir(R"(
      CREATE TABLE orders (id BIGINT, k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file',
        path = '{DIR}/orders.jsonl', event_time = 'ts', watermark_delay = '4s');
      CREATE TABLE rates (id BIGINT, k BIGINT, v BIGINT, ts TIMESTAMP, PRIMARY KEY (k)) WITH (connector = 'file',
        path = '{DIR}/rates.jsonl', event_time = 'ts', watermark_delay = '4s');
    )" + query, dir.path());
    testing::write_file(dir.file("job.sql"), sql);
    testing::expect_at_every_parallelism(dir, "out.jsonl", want);
  }
};

TEST_F(TemporalJoinDifferentialTest, InnerJoinMatchesTheVersionValidAtEachRowsTime) {
  const auto orders = generate(71, 600, 12, 0.05);
  const auto rates = generate(72, 400, 14, 0.0);
  Multiset want;
  for (const Row& o : orders) {
    if (const Row* v = version_at(rates, o)) {
      want[fmt::format("{{\"id\":{},\"k\":{},\"rate\":{},\"rid\":{}}}", o.id, o.k, v->v, v->id)]++;
    }
  }
  check(orders, rates, R"(
      CREATE TABLE out (id BIGINT, k BIGINT, rate BIGINT, rid BIGINT)
        WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
      INSERT INTO out SELECT o.id, o.k, r.v, r.id FROM orders o JOIN versioned(rates, o.ts) AS r ON o.k = r.k;)",
        want);
}

// LEFT: rows without a valid version, or whose version fails the residual, are padded.
TEST_F(TemporalJoinDifferentialTest, LeftJoinWithAResidualPadsRowsWithoutAVersion) {
  const auto orders = generate(81, 600, 12, 0.05);
  const auto rates = generate(82, 300, 14, 0.0);
  Multiset want;
  for (const Row& o : orders) {
    const Row* v = version_at(rates, o);
    if (v && !(v->v > o.v)) v = nullptr;
    want[fmt::format("{{\"id\":{},\"k\":{},\"rate\":{}}}", o.id, key_text(o.k), v ? std::to_string(v->v) : "null")]++;
  }
  check(orders, rates, R"(
      CREATE TABLE out (id BIGINT, k BIGINT, rate BIGINT)
        WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
      INSERT INTO out SELECT o.id, o.k, r.v FROM orders o LEFT JOIN versioned(rates, o.ts) AS r
        ON o.k = r.k AND r.v > o.v;)",
        want);
}

// The output keeps the stream's event time and watermark: a TUMBLE window over it counts
// every joined row in its window, none late.
TEST_F(TemporalJoinDifferentialTest, WindowsOverTheJoinCountEveryRow) {
  const auto orders = generate(91, 500, 8, 0.0);
  const auto rates = generate(92, 200, 8, 0.0);
  std::map<Micros, std::pair<int64_t, int64_t>> windows;  // start -> (count, sum)
  const Micros size = 10 * kMicrosPerSecond;
  for (const Row& o : orders) {
    if (const Row* v = version_at(rates, o)) {
      auto& w = windows[o.ts - ((o.ts % size) + size) % size];
      w.first++;
      w.second += v->v;
    }
  }
  Multiset want;
  for (const auto& [start, w] : windows) {
    std::string iso = format_timestamp(start);  // "2023-11-14 22:13:20", written as ISO-8601 by the sink
    iso[10] = 'T';
    want[fmt::format("{{\"window_start\":\"{}Z\",\"n\":{},\"total\":{}}}", iso, w.first, w.second)]++;
  }
  check(orders, rates, R"(
      CREATE VIEW enriched AS SELECT o.ts, r.v AS rate FROM orders o JOIN versioned(rates, o.ts) AS r ON o.k = r.k;
      CREATE TABLE out (window_start TIMESTAMP, n BIGINT, total BIGINT)
        WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
      INSERT INTO out SELECT window_start, COUNT(*), SUM(rate) FROM TUMBLE(enriched, ts, INTERVAL '10' SECOND)
        GROUP BY window_start, window_end;)",
        want);
}

}  // namespace
}  // namespace sluice
