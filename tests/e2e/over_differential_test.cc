// Differential test of OVER aggregates end to end: a random stream (NULL keys and values,
// equal timestamps, disorder within the watermark delay and a few rows beyond it) is run
// by `sluice run` through one INSERT per frame kind (RANGE interval, RANGE UNBOUNDED, ROWS
// n, ROWS UNBOUNDED, and an unpartitioned RANGE) at parallelism 1 and 4 and batch sizes 1,
// 7 and 4096. Every output must equal a brute-force computation of each on-time row's frame
// (late rows by the source's per-row watermark go to the late-data output, counted), and
// be byte-identical across parallelism and batch size.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/time_util.h"
#include "test_helpers.h"

namespace sluice {
namespace {

struct Row {
  int64_t id;
  int64_t k;  // -1: NULL
  int64_t v;  // -1: NULL
  std::string s;  // "": NULL
  Micros ts;
  bool late = false;
};

constexpr Micros kDelay = 2 * kMicrosPerSecond;

std::vector<Row> generate(uint64_t seed, int n) {
  testing::Rng rng{seed};
  std::vector<Row> rows;
  Micros t = 1700000000LL * kMicrosPerSecond;
  Micros max_ts = kMinWatermark;
  static const char* kWords[] = {"", "amber", "birch", "cedar", "delta"};
  for (int i = 0; i < n; ++i) {
    t += rng.uniform(0, 3) * 100 * kMicrosPerMilli;  // equal timestamps are common
    Row r;
    r.id = i;
    r.k = rng.chance(0.05) ? -1 : rng.uniform(0, 5);
    r.v = rng.chance(0.1) ? -1 : rng.uniform(0, 100);
    r.s = kWords[rng.uniform(0, 4)];
    r.ts = t - (rng.chance(0.03) ? rng.uniform(25, 40) : rng.uniform(0, 15)) * 100 * kMicrosPerMilli;
    r.late = max_ts != kMinWatermark && r.ts < max_ts - kDelay;  // behind its split's watermark
    max_ts = std::max(max_ts, r.ts);
    rows.push_back(r);
  }
  return rows;
}

std::string jsonl(const std::vector<Row>& rows) {
  std::string out;
  for (const auto& r : rows) {
    out += fmt::format("{{\"id\": {}, \"k\": {}, \"v\": {}, \"s\": {}, \"ts\": \"{}\"}}\n", r.id,
                       r.k < 0 ? "null" : std::to_string(r.k), r.v < 0 ? "null" : std::to_string(r.v),
                       r.s.empty() ? "null" : "\"" + r.s + "\"", format_timestamp(r.ts));
  }
  return out;
}

struct Frame {
  bool rows;  // ROWS, else RANGE
  bool unbounded;
  Micros range;
  int64_t n;
  bool partitioned;
};

// The output line of row `cur` over `frame` (its on-time rows), as the JSON sink writes it.
std::string expected_line(const Row& cur, const std::vector<const Row*>& frame) {
  int64_t count_v = 0, sum_v = 0, f = 0;
  int64_t min_v = -1;
  std::string max_s;
  std::set<std::string> distinct_s;
  for (const Row* r : frame) {
    if (r->v >= 0) {
      ++count_v;
      sum_v += r->v;
      min_v = min_v < 0 ? r->v : std::min(min_v, r->v);
      if (r->v > 50) ++f;
    }
    if (!r->s.empty()) {
      max_s = std::max(max_s, r->s);
      distinct_s.insert(r->s);
    }
  }
  auto opt = [](bool present, const std::string& v) { return present ? v : std::string("null"); };
  return fmt::format(
      "{{\"id\":{},\"k\":{},\"n\":{},\"c\":{},\"sv\":{},\"av\":{},\"mn\":{},\"mx\":{},\"ds\":{},\"f\":{}}}", cur.id,
      cur.k < 0 ? "null" : std::to_string(cur.k), frame.size(), count_v, opt(count_v > 0, std::to_string(sum_v)),
      opt(count_v > 0, fmt::format("{}", static_cast<double>(sum_v) / static_cast<double>(count_v))),
      opt(count_v > 0, std::to_string(min_v)), opt(!max_s.empty(), "\"" + max_s + "\""), distinct_s.size(), f);
}

std::vector<std::string> reference(const std::vector<Row>& rows, const Frame& fr) {
  std::vector<std::string> out;
  for (const Row& cur : rows) {
    if (cur.late) continue;
    std::vector<const Row*> part;  // on-time rows of the partition in (ts, arrival) order
    for (const Row& r : rows) {
      if (!r.late && (!fr.partitioned || r.k == cur.k)) part.push_back(&r);
    }
    std::stable_sort(part.begin(), part.end(), [](const Row* a, const Row* b) { return a->ts < b->ts; });
    const size_t at = static_cast<size_t>(std::find(part.begin(), part.end(), &cur) - part.begin());
    std::vector<const Row*> frame;
    for (size_t x = 0; x < part.size(); ++x) {
      const Row& r = *part[x];
      const bool in = fr.rows ? x <= at && (fr.unbounded || at - x <= static_cast<size_t>(fr.n))
                              : r.ts <= cur.ts && (fr.unbounded || r.ts >= cur.ts - fr.range);
      if (in) frame.push_back(&r);
    }
    out.push_back(expected_line(cur, frame));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (end > pos) lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(OverDifferentialTest, EveryFrameKindMatchesBruteForceAtAnyParallelismAndBatchSize) {
  const auto rows = generate(77, 500);
  const int late = static_cast<int>(std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r.late; }));
  ASSERT_GT(late, 3);
  const std::vector<std::pair<std::string, Frame>> frames = {
      {"RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW", {false, false, 2 * kMicrosPerSecond, 0, true}},
      {"RANGE UNBOUNDED PRECEDING", {false, true, 0, 0, true}},
      {"ROWS BETWEEN 3 PRECEDING AND CURRENT ROW", {true, false, 0, 3, true}},
      {"ROWS UNBOUNDED PRECEDING", {true, true, 0, 0, true}},
      {"RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW", {false, false, kMicrosPerSecond, 0, false}},
  };
  testing::TempDir dir;
  testing::write_file(dir.file("tx.jsonl"), jsonl(rows));
  std::string sql = testing::with_dir(R"(
    CREATE TABLE tx (id BIGINT, k BIGINT, v BIGINT, s TEXT, ts TIMESTAMP) WITH (connector = 'file',
      path = '{DIR}/tx.jsonl', event_time = 'ts', watermark_delay = '2s', late_output = '{DIR}/late.jsonl');
  )",
                                      dir.path());
  for (size_t i = 0; i < frames.size(); ++i) {
    sql += testing::with_dir(fmt::format(R"(
    CREATE TABLE out{0} () WITH (connector = 'file', path = '{{DIR}}/out{0}.jsonl');
    INSERT INTO out{0} SELECT id, k, COUNT(*) OVER w AS n, COUNT(v) OVER w AS c, SUM(v) OVER w AS sv,
      AVG(v) OVER w AS av, MIN(v) OVER w AS mn, MAX(s) OVER w AS mx, COUNT(DISTINCT s) OVER w AS ds,
      COUNT(*) FILTER (WHERE v > 50) OVER w AS f
    FROM tx WINDOW w AS ({1}ORDER BY ts {2});
    )",
                                         i, frames[i].second.partitioned ? "PARTITION BY k " : "", frames[i].first),
                             dir.path());
  }
  testing::write_file(dir.file("job.sql"), sql);
  std::vector<std::string> first(frames.size());
  for (int parallelism : {1, 4}) {
    for (int batch : {1, 7, 4096}) {
      SCOPED_TRACE(::testing::Message() << "parallelism " << parallelism << " batch " << batch);
      auto r = testing::run_sluice(fmt::format("run -q --parallelism {} --batch-size {} job.sql", parallelism, batch),
                                   dir.path());
      ASSERT_EQ(r.exit_code, 0) << r.output;
      for (size_t i = 0; i < frames.size(); ++i) {
        SCOPED_TRACE(frames[i].first);
        const std::string text = testing::read_file(dir.file(fmt::format("out{}.jsonl", i)));
        EXPECT_EQ(sorted_lines(text), reference(rows, frames[i].second));
        if (first[i].empty()) first[i] = text;
        EXPECT_EQ(text, first[i]) << "the output differs from that at parallelism 1, batch size 1";
      }
      // One late-data entry per late record, naming every query.
      const auto late_lines = sorted_lines(testing::read_file(dir.file("late.jsonl")));
      ASSERT_EQ(static_cast<int>(late_lines.size()), late);
      EXPECT_NE(late_lines[0].find("\"queries\":[\"out0\",\"out1\",\"out2\",\"out3\",\"out4\"]"), std::string::npos)
          << late_lines[0];
    }
  }
}

}  // namespace
}  // namespace sluice
