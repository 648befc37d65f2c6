// Differential test of event-time window aggregation.
//
// A random stream (seeded) with disorder up to the watermark delay, records far behind the
// watermark (late), NULL values and malformed lines is run through Sluice with TUMBLE and
// HOP windows computing COUNT(*), SUM, MIN, MAX, AVG and COUNT(DISTINCT), at parallelism
// 1, 2 and 4 and several batch sizes. A brute-force model in this file computes the same
// results from the rules in docs/architecture.md ("Time"); every run must equal it, the
// output files must be byte-identical across runs, and the late and dead-letter counts must
// match the model exactly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/time_util.h"
#include "operators/window_spec.h"
#include "plan/physical_planner.h"
#include "runtime/job.h"
#include "sql/compiler.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::TempDir;

using testing::Rng;

struct Event {
  bool malformed = false;
  std::string raw;
  int64_t k = 0;
  bool v_null = false;
  int64_t v = 0;
  std::string s;
  Micros ts = 0;
};

constexpr Micros kBase = 1700000000LL * kMicrosPerSecond;

std::vector<Event> generate(uint64_t seed, int n, Micros delay) {
  Rng rng{seed};
  std::vector<Event> out;
  Micros nominal = kBase;
  for (int i = 0; i < n; ++i) {
    Event e;
    nominal += rng.uniform(0, 300) * kMicrosPerMilli;
    if (rng.chance(0.03)) {
      e.malformed = true;
      switch (rng.uniform(0, 3)) {
        case 0: e.raw = "{\"k\": 1, \"v\": 2, \"ts\": "; break;                       // truncated
        case 1: e.raw = "not json at all"; break;                                     // garbage
        case 2: e.raw = "{\"k\": \"abc\", \"v\": 1, \"s\": \"x\", \"ts\": 1}"; break;  // wrong type
        default: e.raw = "{\"k\": 1, \"v\": 1, \"s\": \"x\", \"ts\": \"yesterday\"}"; break;
      }
      out.push_back(e);
      continue;
    }
    e.k = rng.uniform(0, 7);
    e.v_null = rng.chance(0.05);
    e.v = rng.uniform(-50, 100);
    e.s = "s" + std::to_string(rng.uniform(0, 12));
    e.ts = nominal;
    if (rng.chance(0.3)) e.ts -= rng.uniform(0, delay / kMicrosPerMilli) * kMicrosPerMilli;  // within the delay
    if (rng.chance(0.02)) e.ts -= delay + rng.uniform(1, 40000) * kMicrosPerMilli;           // likely late
    std::ostringstream line;
    line << "{\"k\": " << e.k << ", \"v\": " << (e.v_null ? std::string("null") : std::to_string(e.v))
         << ", \"s\": \"" << e.s << "\", \"ts\": \"" << format_timestamp_iso(e.ts) << "\"}";
    e.raw = line.str();
    out.push_back(e);
  }
  return out;
}

struct Row {
  int64_t count = 0;
  bool has_v = false;
  int64_t sum = 0, mn = 0, mx = 0, nonnull = 0;
  std::set<std::string> distinct;
  bool operator==(const Row& o) const = default;
};
using Key = std::tuple<Micros, Micros, int64_t>;  // window_start, window_end, k

struct Model {
  std::map<Key, Row> rows;
  uint64_t late = 0;
  uint64_t malformed = 0;
};

// The rules: W = max event time seen - delay (before the record); a record is late when
// end + lateness <= W for every window it belongs to; otherwise it joins each of its
// windows whose end + lateness > W.
Model reference(const std::vector<Event>& events, const WindowSpec& w, Micros delay) {
  Model m;
  Micros max_ts = kMinWatermark;
  for (const auto& e : events) {
    if (e.malformed) {
      ++m.malformed;
      continue;
    }
    Micros wm = max_ts == kMinWatermark ? kMinWatermark : max_ts - delay;
    if (w.max_end(e.ts) <= wm) {
      ++m.late;
    } else {
      w.for_each_window(e.ts, [&](Micros start) {
        Micros end = start + w.size;
        if (end <= wm) return;
        Row& r = m.rows[{start, end, e.k}];
        r.count++;
        r.distinct.insert(e.s);
        if (!e.v_null) {
          r.sum += e.v;
          r.mn = r.has_v ? std::min(r.mn, e.v) : e.v;
          r.mx = r.has_v ? std::max(r.mx, e.v) : e.v;
          r.has_v = true;
          r.nonnull++;
        }
      });
    }
    max_ts = std::max(max_ts, e.ts);
  }
  return m;
}

struct RunResult {
  std::string output;
  uint64_t late = 0;
  uint64_t dead_lettered = 0;
};

RunResult run_engine(const std::string& sql, int parallelism, size_t batch_size, const std::string& dir) {
  auto job = compile_sql(sql, "differential.sql");
  EXPECT_TRUE(job.is_ok()) << job.status().message();
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = batch_size;
  auto plan = plan_job(job.value(), po);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  Job running(std::move(plan.value().job));
  Status s = running.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  RunResult r;
  r.output = testing::read_file(dir + "/out.jsonl");
  for (const auto& side : plan.value().side_outputs) {
    if (side.kind == "late data") r.late += side.queue->count();
    if (side.kind == "dead-letter queue") r.dead_lettered += side.queue->count();
  }
  return r;
}

std::map<Key, nlohmann::json> parse_output(const std::string& text) {
  std::map<Key, nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    Key key{parse_timestamp(j["window_start"].get<std::string>()).value(),
            parse_timestamp(j["window_end"].get<std::string>()).value(), j["k"].get<int64_t>()};
    EXPECT_EQ(out.count(key), 0u) << "duplicate row " << line;
    out[key] = j;
  }
  return out;
}

void check_against_model(const Model& model, const std::string& output) {
  auto rows = parse_output(output);
  ASSERT_EQ(rows.size(), model.rows.size());
  for (const auto& [key, want] : model.rows) {
    auto it = rows.find(key);
    ASSERT_NE(it, rows.end()) << "missing window " << format_timestamp(std::get<0>(key)) << " k=" << std::get<2>(key);
    const auto& j = it->second;
    EXPECT_EQ(j["c"].get<int64_t>(), want.count);
    EXPECT_EQ(j["d"].get<int64_t>(), static_cast<int64_t>(want.distinct.size()));
    if (!want.has_v) {
      EXPECT_TRUE(j["s"].is_null());
      EXPECT_TRUE(j["mn"].is_null());
      EXPECT_TRUE(j["a"].is_null());
    } else {
      EXPECT_EQ(j["s"].get<int64_t>(), want.sum);
      EXPECT_EQ(j["mn"].get<int64_t>(), want.mn);
      EXPECT_EQ(j["mx"].get<int64_t>(), want.mx);
      EXPECT_DOUBLE_EQ(j["a"].get<double>(), static_cast<double>(want.sum) / static_cast<double>(want.nonnull));
    }
  }
}

struct Case {
  std::string name;
  std::string window_sql;  // table function call
  WindowSpec window;
};

class DifferentialTest : public ::testing::TestWithParam<Case> {};

TEST_P(DifferentialTest, MatchesBruteForceAtEveryParallelismAndBatchSize) {
  const Case& c = GetParam();
  const Micros delay = 2 * kMicrosPerSecond;
  for (uint64_t seed : {1u, 2u, 3u}) {
    TempDir dir;
    auto events = generate(seed, 4000, delay);
    std::string input;
    for (const auto& e : events) input += e.raw + "\n";
    testing::write_file(dir.file("in.jsonl"), input);
    std::string sql = testing::with_dir(R"(
      CREATE TABLE src (k BIGINT, v BIGINT, s TEXT, ts TIMESTAMP)
        WITH (connector = 'file', path = '{DIR}/in.jsonl', format = 'json', event_time = 'ts',
              watermark_delay = '2 seconds', dlq = '{DIR}/dlq.jsonl', late_output = '{DIR}/late.jsonl');
      CREATE TABLE out (window_start TIMESTAMP, window_end TIMESTAMP, k BIGINT, c BIGINT, s BIGINT,
                        mn BIGINT, mx BIGINT, a DOUBLE PRECISION, d BIGINT)
        WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
      INSERT INTO out
      SELECT window_start, window_end, k, COUNT(*), SUM(v), MIN(v), MAX(v), AVG(v), COUNT(DISTINCT s)
      FROM )" + c.window_sql + R"(
      GROUP BY window_start, window_end, k;)", dir.path());
    Model model = reference(events, c.window, delay);
    ASSERT_GT(model.late, 0u);
    ASSERT_GT(model.malformed, 0u);
    std::string first;
    for (int parallelism : {1, 2, 4}) {
      for (size_t batch : {1u, 7u, 256u, 4096u}) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " parallelism " << parallelism << " batch " << batch);
        RunResult r = run_engine(sql, parallelism, batch, dir.path());
        EXPECT_EQ(r.late, model.late);
        EXPECT_EQ(r.dead_lettered, model.malformed);
        if (first.empty()) {
          first = r.output;
          check_against_model(model, r.output);
        } else {
          EXPECT_EQ(r.output, first) << "output differs from the first run";
        }
        std::remove(dir.file("late.jsonl").c_str());
        std::remove(dir.file("dlq.jsonl").c_str());
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Windows, DifferentialTest,
    ::testing::Values(Case{"tumble", "TUMBLE(src, ts, INTERVAL '10 seconds')", {WindowSpec::Kind::kTumble, 10 * kMicrosPerSecond, 10 * kMicrosPerSecond, 0}},
                      Case{"tumble_offset", "TUMBLE(src, ts, INTERVAL '10 seconds', INTERVAL '3 seconds')", {WindowSpec::Kind::kTumble, 10 * kMicrosPerSecond, 10 * kMicrosPerSecond, 3 * kMicrosPerSecond}},
                      Case{"hop", "HOP(src, ts, INTERVAL '5 seconds', INTERVAL '15 seconds')", {WindowSpec::Kind::kHop, 15 * kMicrosPerSecond, 5 * kMicrosPerSecond, 0}},
                      Case{"hop_uneven", "HOP(src, ts, INTERVAL '4 seconds', INTERVAL '10 seconds')", {WindowSpec::Kind::kHop, 10 * kMicrosPerSecond, 4 * kMicrosPerSecond, 0}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace sluice
