// Differential tests of updating window results: SESSION windows (with merges, late-but-
// allowed rows that extend or bridge fired sessions, and the retraction of sessions merged
// away) and TUMBLE windows with allowed lateness. The final content of an upsert sink
// (SQLite, keyed by key and window_start) must equal a brute-force model for parallelism
// 1, 2, 4 and several batch sizes, and late/dead-letter counts must match exactly.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
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

using testing::Rng;

struct Event {
  bool malformed = false;
  int64_t k = 0, v = 0;
  Micros ts = 0;
  std::string raw;
};

constexpr Micros kBase = 1700000000LL * kMicrosPerSecond;
constexpr Micros kSecond = kMicrosPerSecond;

// Bursts of activity per key separated by gaps, with disorder, some very late rows and
// re-delivered duplicates of earlier events.
std::vector<Event> generate(uint64_t seed, int n) {
  Rng rng{seed};
  std::vector<Event> out;
  Micros now = kBase;
  for (int i = 0; i < n; ++i) {
    Event e;
    now += rng.chance(0.05) ? rng.uniform(20, 90) * kSecond : rng.uniform(0, 3000) * kMicrosPerMilli;
    if (rng.chance(0.02)) {
      e.malformed = true;
      e.raw = rng.chance(0.5) ? "{\"k\": 1, \"v\": " : "{\"k\": 1, \"v\": 2, \"ts\": \"never\"}";
      out.push_back(e);
      continue;
    }
    e.k = rng.uniform(0, 5);
    e.v = rng.uniform(0, 1000);
    e.ts = now - (rng.chance(0.3) ? rng.uniform(0, 4000) * kMicrosPerMilli : 0);
    if (rng.chance(0.04)) e.ts -= rng.uniform(5, 120) * kSecond;  // late, possibly beyond lateness
    e.raw = "{\"k\": " + std::to_string(e.k) + ", \"v\": " + std::to_string(e.v) + ", \"ts\": \"" +
            format_timestamp_iso(e.ts) + "\"}";
    out.push_back(e);
    if (rng.chance(0.05)) out.push_back(out[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(out.size()) - 1))]);  // a re-delivered event
  }
  return out;
}

struct Agg {
  int64_t count = 0, sum = 0, max = 0;
  void add(int64_t v) {
    max = count ? std::max(max, v) : v;
    count++;
    sum += v;
  }
  void merge(const Agg& o) {
    if (!o.count) return;
    max = count ? std::max(max, o.max) : o.max;
    count += o.count;
    sum += o.sum;
  }
};
struct Result {
  std::map<std::tuple<int64_t, Micros>, std::tuple<Micros, int64_t, int64_t, int64_t>> rows;  // (k, start) -> (end, count, sum, max)
  uint64_t late = 0, malformed = 0;
  uint64_t bridges = 0;        // a row merged two or more existing sessions
  uint64_t fired_updates = 0;  // a row changed a window the watermark had already passed
};

Micros watermark_before(Micros max_ts, Micros delay) { return max_ts == kMinWatermark ? kMinWatermark : max_ts - delay; }

Result session_model(const std::vector<Event>& events, Micros gap, Micros delay, Micros lateness) {
  struct S {
    Micros start, end;
    Agg agg;
  };
  std::map<int64_t, std::vector<S>> live;
  Result r;
  Micros max_ts = kMinWatermark;
  auto finalize = [&](int64_t k, const S& s) { r.rows[{k, s.start}] = {s.end, s.agg.count, s.agg.sum, s.agg.max}; };
  for (const auto& e : events) {
    if (e.malformed) {
      ++r.malformed;
      continue;
    }
    Micros wm = watermark_before(max_ts, delay);
    for (auto& [k, list] : live) {
      for (auto it = list.begin(); it != list.end();) {
        if (it->end + lateness <= wm) {
          finalize(k, *it);
          it = list.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (e.ts + gap + lateness <= wm) {
      ++r.late;
    } else {
      auto& list = live[e.k];
      S merged{e.ts, e.ts + gap, {}};
      merged.agg.add(e.v);
      int hits = 0;
      for (auto it = list.begin(); it != list.end();) {
        if (it->start <= e.ts + gap && it->end >= e.ts) {
          ++hits;
          if (it->end <= wm) ++r.fired_updates;
          merged.start = std::min(merged.start, it->start);
          merged.end = std::max(merged.end, it->end);
          merged.agg.merge(it->agg);
          it = list.erase(it);
        } else {
          ++it;
        }
      }
      if (hits >= 2) ++r.bridges;
      list.push_back(merged);
    }
    max_ts = std::max(max_ts, e.ts);
  }
  for (auto& [k, list] : live) {
    for (const auto& s : list) finalize(k, s);
  }
  return r;
}

Result tumble_model(const std::vector<Event>& events, Micros size, Micros delay, Micros lateness) {
  std::map<std::tuple<int64_t, Micros>, Agg> aggs;
  Result r;
  Micros max_ts = kMinWatermark;
  for (const auto& e : events) {
    if (e.malformed) {
      ++r.malformed;
      continue;
    }
    Micros wm = watermark_before(max_ts, delay);
    Micros start = floor_div(e.ts, size) * size;
    if (start + size + lateness <= wm) {
      ++r.late;
    } else {
      if (start + size <= wm) ++r.fired_updates;
      aggs[{e.k, start}].add(e.v);
    }
    max_ts = std::max(max_ts, e.ts);
  }
  for (const auto& [key, a] : aggs) r.rows[key] = {std::get<1>(key) + size, a.count, a.sum, a.max};
  return r;
}

// Plans and runs `sql`; returns the plan's side outputs (for late and dead-letter counts).
std::vector<SideOutput> run_sql(const std::string& sql, int parallelism, size_t batch) {
  auto job = compile_sql(sql, "updating.sql");
  EXPECT_TRUE(job.is_ok()) << job.status().message();
  if (!job.is_ok()) return {};
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = batch;
  auto plan = plan_job(job.value(), po);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  if (!plan.is_ok()) return {};
  Job running(std::move(plan.value().job));
  Status s = running.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  return plan.value().side_outputs;
}

Result run_engine(const std::string& sql, int parallelism, size_t batch, const std::string& dir) {
  auto job = compile_sql(sql, "updating.sql");
  EXPECT_TRUE(job.is_ok()) << job.status().message();
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = batch;
  auto plan = plan_job(job.value(), po);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  Job running(std::move(plan.value().job));
  Status s = running.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  Result r;
  for (const auto& side : plan.value().side_outputs) {
    if (side.kind == "late data") r.late += side.queue->count();
    if (side.kind == "dead-letter queue") r.malformed += side.queue->count();
  }
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open((dir + "/out.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT k, window_start, window_end, c, s, m FROM out", -1, &st, nullptr), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    Micros ws = parse_timestamp(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))).value();
    Micros we = parse_timestamp(reinterpret_cast<const char*>(sqlite3_column_text(st, 2))).value();
    r.rows[{sqlite3_column_int64(st, 0), ws}] = {we, sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
                                                 sqlite3_column_int64(st, 5)};
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return r;
}

void expect_same(const Result& want, const Result& got) {
  EXPECT_EQ(got.late, want.late);
  EXPECT_EQ(got.malformed, want.malformed);
  EXPECT_EQ(got.rows.size(), want.rows.size());
  for (const auto& [key, row] : want.rows) {
    auto it = got.rows.find(key);
    if (it == got.rows.end()) {
      ADD_FAILURE() << "missing k=" << std::get<0>(key) << " start " << format_timestamp(std::get<1>(key));
      continue;
    }
    EXPECT_EQ(it->second, row) << "k=" << std::get<0>(key) << " start " << format_timestamp(std::get<1>(key));
  }
  for (const auto& [key, row] : got.rows) {
    if (!want.rows.count(key)) ADD_FAILURE() << "unexpected k=" << std::get<0>(key) << " start " << format_timestamp(std::get<1>(key));
  }
}

struct Case {
  std::string name;
  bool session;
  int lateness_seconds;
};

class UpdatingDifferentialTest : public ::testing::TestWithParam<Case> {};

TEST_P(UpdatingDifferentialTest, FinalSinkStateMatchesTheModel) {
  const Case& c = GetParam();
  const Micros delay = 2 * kSecond, gap = 10 * kSecond, size = 30 * kSecond;
  const Micros lateness = c.lateness_seconds * kSecond;
  uint64_t total_bridges = 0, total_fired_updates = 0;
  for (uint64_t seed : {11u, 12u, 13u}) {
    auto events = generate(seed, 3000);
    Result want = c.session ? session_model(events, gap, delay, lateness) : tumble_model(events, size, delay, lateness);
    ASSERT_GT(want.late, 0u);
    total_bridges += want.bridges;
    total_fired_updates += want.fired_updates;
    for (int parallelism : {1, 2, 4}) {
      for (size_t batch : {1u, 13u, 512u, 4096u}) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " parallelism " << parallelism << " batch " << batch);
        testing::TempDir dir;
        std::string input;
        for (const auto& e : events) input += e.raw + "\n";
        testing::write_file(dir.file("in.jsonl"), input);
        std::string window = c.session ? "SESSION(src, ts, INTERVAL '10 seconds')" : "TUMBLE(src, ts, INTERVAL '30 seconds')";
        std::string sql = testing::with_dir(R"(
          CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
            WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', watermark_delay = '2 seconds',
                  dlq = '{DIR}/dlq.jsonl', late_output = '{DIR}/late.jsonl',
                  allowed_lateness = ')" + std::to_string(c.lateness_seconds) + R"( seconds');
          CREATE TABLE out (k BIGINT, window_start TIMESTAMP, window_end TIMESTAMP, c BIGINT, s BIGINT, m BIGINT)
            WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'k,window_start');
          INSERT INTO out SELECT k, window_start, window_end, COUNT(*), SUM(v), MAX(v)
          FROM )" + window + R"( GROUP BY k, window_start, window_end;)", dir.path());
        expect_same(want, run_engine(sql, parallelism, batch, dir.path()));
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
  // The streams must exercise what is tested: bridging merges, and updates of fired windows.
  if (c.session) {
    EXPECT_GT(total_bridges, 0u) << "the data must make sessions merge";
  }
  if (c.lateness_seconds > 0) {
    EXPECT_GT(total_fired_updates, 0u) << "the data must update fired windows";
  }
}

INSTANTIATE_TEST_SUITE_P(Windows, UpdatingDifferentialTest,
                         ::testing::Values(Case{"session", true, 0}, Case{"session_allowed_lateness", true, 30},
                                           Case{"tumble_allowed_lateness", false, 45}),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace sluice

#include <nlohmann/json.hpp>

namespace sluice {
namespace {

// With allowed lateness a window is emitted when it fires and again for every late row it
// accepts. Each emitted row must be the aggregate of a prefix (in arrival order) of the rows
// the model accepts into that window, and the last one emitted must be the final value.
TEST(AllowedLatenessUpdatesTest, EveryEmittedUpdateIsAPrefixOfTheWindowAndTheLastIsFinal) {
  const Micros delay = 2 * kSecond, size = 30 * kSecond, lateness = 45 * kSecond;
  for (uint64_t seed : {31u, 32u}) {
    auto events = generate(seed, 3000);
    // Model: accepted values per (k, window start), in arrival order.
    std::map<std::tuple<int64_t, Micros>, std::vector<int64_t>> accepted;
    Micros max_ts = kMinWatermark;
    uint64_t updates_of_fired = 0;
    for (const auto& e : events) {
      if (e.malformed) continue;
      Micros wm = watermark_before(max_ts, delay);
      Micros start = floor_div(e.ts, size) * size;
      if (start + size + lateness > wm) {
        accepted[{e.k, start}].push_back(e.v);
        if (start + size <= wm) ++updates_of_fired;
      }
      max_ts = std::max(max_ts, e.ts);
    }
    ASSERT_GT(updates_of_fired, 10u);
    for (size_t batch : {1u, 64u, 4096u}) {
      SCOPED_TRACE(::testing::Message() << "seed " << seed << " batch " << batch);
      testing::TempDir dir;
      std::string input;
      for (const auto& e : events) input += e.raw + "\n";
      testing::write_file(dir.file("in.jsonl"), input);
      std::string sql = testing::with_dir(R"(
        CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
          WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', watermark_delay = '2 seconds',
                allowed_lateness = '45 seconds', dlq = '{DIR}/dlq.jsonl', late_output = '{DIR}/late.jsonl');
        CREATE TABLE changes (k BIGINT, window_start TIMESTAMP, c BIGINT, s BIGINT, m BIGINT)
          WITH (connector = 'file', path = '{DIR}/changes.jsonl', changelog = 'true');
        INSERT INTO changes SELECT k, window_start, COUNT(*), SUM(v), MAX(v)
        FROM TUMBLE(src, ts, INTERVAL '30 seconds') GROUP BY k, window_start, window_end;)", dir.path());
      run_sql(sql, 2, batch);
      std::map<std::tuple<int64_t, Micros>, int64_t> last_count;
      uint64_t updates = 0;
      std::istringstream in(testing::read_file(dir.file("changes.jsonl")));
      for (std::string line; std::getline(in, line);) {
        auto j = nlohmann::json::parse(line);
        std::string op = j["op"].get<std::string>();
        ASSERT_TRUE(op == "+I" || op == "+U") << line;
        updates += op == "+U";
        auto key = std::make_tuple(j["k"].get<int64_t>(), parse_timestamp(j["window_start"].get<std::string>()).value());
        const auto& values = accepted[key];
        int64_t c = j["c"].get<int64_t>();
        ASSERT_GE(c, 1);
        ASSERT_LE(static_cast<size_t>(c), values.size()) << line;
        int64_t sum = 0, max = values[0];
        for (int64_t i = 0; i < c; ++i) {
          sum += values[static_cast<size_t>(i)];
          max = std::max(max, values[static_cast<size_t>(i)]);
        }
        EXPECT_EQ(j["s"].get<int64_t>(), sum) << line;
        EXPECT_EQ(j["m"].get<int64_t>(), max) << line;
        EXPECT_GT(c, last_count[key]) << "updates of a window only grow: " << line;
        last_count[key] = c;
      }
      // Windows fire on the watermark sent after each batch: with small batches late rows
      // meet fired windows and must produce updates (one 4096-row batch holds everything).
      if (batch <= 64) {
        EXPECT_GT(updates, 0u);
      }
      ASSERT_EQ(last_count.size(), accepted.size());
      for (const auto& [key, values] : accepted) EXPECT_EQ(last_count[key], static_cast<int64_t>(values.size()));
    }
  }
}

}  // namespace
}  // namespace sluice
