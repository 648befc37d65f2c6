// Differential tests of HAVING and WHERE over updating aggregates (issue 9, point 10).
//
// Values go up and down (negative values), so keys qualify, stop qualifying and qualify
// again while the stream runs. The final content of a SQLite upsert sink must equal the
// batch query's result — computed independently by SQLite running the same GROUP BY ...
// HAVING over the same input (for windows: over the rows a brute-force lateness model
// accepts) — at parallelism 1, 2, 4 and batch sizes 1, 7, 4096. A changelog file written
// by the same query must be a valid changelog: +I only for a key not present, +U and -D only
// for a key present, and replaying it gives the same final state.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time_util.h"
#include "plan/physical_planner.h"
#include "runtime/job.h"
#include "sql/compiler.h"
#include "test_helpers.h"

namespace sluice {
namespace {

constexpr Micros kBase = 1700000000LL * kMicrosPerSecond;
constexpr Micros kSecond = kMicrosPerSecond;

struct Event {
  bool malformed = false;
  int64_t k = 0, v = 0;
  Micros ts = 0;
  std::string raw;
};

// Per key, values drift up and down around the threshold; timestamps advance with some
// disorder and a few very late rows; a few malformed lines.
std::vector<Event> generate(uint64_t seed, int n) {
  testing::Rng rng{seed};
  std::vector<Event> out;
  std::map<int64_t, int64_t> trend;
  Micros now = kBase;
  for (int i = 0; i < n; ++i) {
    Event e;
    now += rng.uniform(0, 1500) * kMicrosPerMilli;
    if (rng.chance(0.01)) {
      e.malformed = true;
      e.raw = "{\"k\": 3, \"v\": ";
      out.push_back(e);
      continue;
    }
    e.k = rng.uniform(0, 7);
    if (rng.chance(0.1)) trend[e.k] = rng.chance(0.5) ? 1 : -1;
    e.v = rng.uniform(-6, 6) + 2 * trend[e.k];
    e.ts = now - (rng.chance(0.3) ? rng.uniform(0, 3000) * kMicrosPerMilli : 0);
    if (rng.chance(0.03)) e.ts -= rng.uniform(10, 60) * kSecond;  // late, possibly beyond lateness
    e.raw = "{\"k\": " + std::to_string(e.k) + ", \"v\": " + std::to_string(e.v) + ", \"ts\": \"" +
            format_timestamp_iso(e.ts) + "\"}";
    out.push_back(e);
  }
  return out;
}

using Table = std::map<std::vector<std::string>, std::vector<std::string>>;  // key -> other columns

std::string text_of(sqlite3_stmt* st, int c) {
  const unsigned char* t = sqlite3_column_text(st, c);
  return t ? reinterpret_cast<const char*>(t) : "NULL";
}

Table query(sqlite3* db, const std::string& sql, size_t key_columns) {
  Table t;
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db) << ": " << sql;
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> key, rest;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      (static_cast<size_t>(c) < key_columns ? key : rest).push_back(text_of(st, c));
    }
    EXPECT_EQ(t.count(key), 0u) << "duplicate key in " << sql;
    t[key] = rest;
  }
  sqlite3_finalize(st);
  return t;
}

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << ": " << sql;
}

struct Model {
  Table expected;
  uint64_t late = 0, malformed = 0;
  uint64_t requalified = 0;  // keys that qualified, stopped and qualified again (in arrival order)
};

// The batch query, run by SQLite over the rows the stream accepts. `window_size` 0: no
// window (every well-formed row counts); else TUMBLE windows with the lateness rule of
// docs/architecture.md "Time" (a row is late when its window's end + lateness <= the
// watermark before it, the watermark being max event time so far - delay).
Model batch_model(const std::vector<Event>& events, const std::string& batch_sql, size_t key_columns,
                  Micros window_size, Micros delay, Micros lateness, int64_t threshold) {
  Model m;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  exec(db, "CREATE TABLE src (k INTEGER, v INTEGER, ws TEXT, we TEXT)");
  exec(db, "BEGIN");
  Micros max_ts = kMinWatermark;
  std::map<std::pair<int64_t, Micros>, std::pair<int64_t, int>> prefix;  // (k, window) -> (sum, state)
  for (const auto& e : events) {
    if (e.malformed) {
      ++m.malformed;
      continue;
    }
    const Micros wm = max_ts == kMinWatermark ? kMinWatermark : max_ts - delay;
    max_ts = std::max(max_ts, e.ts);
    Micros start = 0;
    if (window_size > 0) {
      start = floor_div(e.ts, window_size) * window_size;
      if (start + window_size + lateness <= wm) {
        ++m.late;
        continue;
      }
    }
    // state: 0 never qualified, 1 qualifies, 2 stopped, 3 qualified again.
    auto& [sum, state] = prefix[{e.k, start}];
    sum += e.v;
    const bool q = sum >= threshold;
    if (q && state == 0) state = 1;
    else if (!q && state == 1) state = 2;
    else if (q && state == 2) {
      state = 3;
      ++m.requalified;
    }
    exec(db, "INSERT INTO src VALUES (" + std::to_string(e.k) + ", " + std::to_string(e.v) + ", '" +
                 format_timestamp(start) + "', '" + format_timestamp(start + window_size) + "')");
  }
  exec(db, "COMMIT");
  m.expected = query(db, batch_sql, key_columns);
  sqlite3_close(db);
  return m;
}

struct RunResult {
  Table rows;
  uint64_t late = 0, malformed = 0;
};

RunResult run_engine(const std::string& sql, int parallelism, size_t batch, const std::string& db_path,
                     const std::string& read_sql, size_t key_columns) {
  RunResult r;
  auto job = compile_sql(sql, "having.sql");
  EXPECT_TRUE(job.is_ok()) << job.status().message();
  if (!job.is_ok()) return r;
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = batch;
  auto plan = plan_job(job.value(), po);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  if (!plan.is_ok()) return r;
  Job running(std::move(plan.value().job));
  Status s = running.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  for (const auto& side : plan.value().side_outputs) {
    if (side.kind == "late data") r.late += side.queue->count();
    if (side.kind == "dead-letter queue") r.malformed += side.queue->count();
  }
  if (db_path.empty()) return r;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  r.rows = query(db, read_sql, key_columns);
  sqlite3_close(db);
  return r;
}

// Replays a changelog file (JSON lines with "op") strictly; returns the final state keyed by
// `key_fields`, values = the other fields in `value_fields` order, as text.
Table replay_changelog(const std::string& path, const std::vector<std::string>& key_fields,
                       const std::vector<std::string>& value_fields) {
  Table state;
  std::istringstream in(testing::read_file(path));
  // As SQLite shows them: timestamps (ISO in the file) in format_timestamp's form.
  auto text = [](const nlohmann::json& v) {
    if (v.is_null()) return std::string("NULL");
    if (!v.is_string()) return v.dump();
    auto ts = parse_timestamp(v.get<std::string>());
    return ts.is_ok() ? format_timestamp(ts.value()) : v.get<std::string>();
  };
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    std::vector<std::string> key, value;
    for (const auto& f : key_fields) key.push_back(text(j[f]));
    for (const auto& f : value_fields) value.push_back(text(j[f]));
    const std::string op = j["op"].get<std::string>();
    if (op == "+I") {
      EXPECT_EQ(state.count(key), 0u) << "+I for a key already present: " << line;
      state[key] = value;
    } else if (op == "+U") {
      EXPECT_EQ(state.count(key), 1u) << "+U for a key not present: " << line;
      state[key] = value;
    } else if (op == "-D") {
      EXPECT_EQ(state.count(key), 1u) << "-D for a key not present: " << line;
      state.erase(key);
    } else {
      ADD_FAILURE() << "unexpected op: " << line;
    }
    if (::testing::Test::HasFailure()) break;
  }
  return state;
}

void expect_tables_equal(const Table& want, const Table& got) {
  EXPECT_EQ(got.size(), want.size());
  auto show = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return "(" + s + ")";
  };
  for (const auto& [key, row] : want) {
    auto it = got.find(key);
    if (it == got.end()) {
      ADD_FAILURE() << "missing " << show(key) << " -> " << show(row);
      continue;
    }
    EXPECT_EQ(show(it->second), show(row)) << "key " << show(key);
  }
  for (const auto& [key, row] : got) {
    if (!want.count(key)) ADD_FAILURE() << "unexpected " << show(key) << " -> " << show(row);
  }
}

struct Case {
  std::string name;
  std::string select;     // the streaming query (FROM src / TUMBLE(src ...))
  std::string batch_sql;  // the same query for SQLite over src(k, v, ws, we)
  std::string columns;    // sink columns
  std::string primary_key;
  size_t key_columns;     // leading columns of batch_sql / the read query forming the key
  Micros window_size;     // 0: no window
  int lateness_seconds;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class HavingDifferentialTest : public ::testing::TestWithParam<Case> {};

TEST_P(HavingDifferentialTest, FinalSinkStateEqualsTheBatchQuery) {
  const Case& c = GetParam();
  const Micros delay = 2 * kSecond, lateness = c.lateness_seconds * kSecond;
  const std::vector<std::string> names = [&] {
    std::vector<std::string> v;
    std::istringstream in(c.columns);
    for (std::string col; std::getline(in, col, ',');) {
      col.erase(0, col.find_first_not_of(' '));
      v.push_back(col.substr(0, col.find(' ')));
    }
    return v;
  }();
  std::string read_sql = "SELECT ";
  for (size_t i = 0; i < names.size(); ++i) read_sql += (i ? ", " : "") + names[i];
  read_sql += " FROM out";
  const std::vector<std::string> key_names(names.begin(), names.begin() + static_cast<long>(c.key_columns));
  const std::vector<std::string> value_names(names.begin() + static_cast<long>(c.key_columns), names.end());
  uint64_t requalified = 0;
  for (uint64_t seed : {21u, 22u}) {
    auto events = generate(seed, 1500);
    Model model = batch_model(events, c.batch_sql, c.key_columns, c.window_size, delay, lateness, 5);
    if (::testing::Test::HasFailure()) return;
    requalified += model.requalified;
    for (int parallelism : {1, 2, 4}) {
      for (size_t batch : {1u, 7u, 4096u}) {
        SCOPED_TRACE(::testing::Message() << c.name << " seed " << seed << " parallelism " << parallelism << " batch "
                                          << batch);
        testing::TempDir dir;
        std::string input;
        for (const auto& e : events) input += e.raw + "\n";
        testing::write_file(dir.file("in.jsonl"), input);
        // Two jobs: one into a SQLite upsert table, one into a changelog file (each reads
        // the source once, so late and dead-letter counts are per job).
        const std::string source = testing::with_dir(
            "CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/in.jsonl', "
            "event_time = 'ts', watermark_delay = '2 seconds', allowed_lateness = '" +
                std::to_string(c.lateness_seconds) + " seconds', dlq = '{DIR}/dlq.jsonl', late_output = '{DIR}/late.jsonl');\n",
            dir.path());
        const std::string upsert = source + testing::with_dir("CREATE TABLE out (" + c.columns +
                                                              ") WITH (connector = 'sqlite', path = '{DIR}/out.db', "
                                                              "primary_key = '" + c.primary_key + "');\nINSERT INTO out " +
                                                              c.select + ";\n",
                                                          dir.path());
        RunResult got = run_engine(upsert, parallelism, batch, dir.file("out.db"), read_sql, c.key_columns);
        EXPECT_EQ(got.malformed, model.malformed);
        EXPECT_EQ(got.late, model.late);
        {
          SCOPED_TRACE("SQLite upsert sink");
          expect_tables_equal(model.expected, got.rows);
        }
        const std::string changelog = source + testing::with_dir("CREATE TABLE changes (" + c.columns +
                                                                 ") WITH (connector = 'file', path = "
                                                                 "'{DIR}/changes.jsonl', changelog = 'true');\n"
                                                                 "INSERT INTO changes " + c.select + ";\n",
                                                             dir.path());
        run_engine(changelog, parallelism, batch, "", "", 0);
        {
          SCOPED_TRACE("changelog file");
          expect_tables_equal(model.expected, replay_changelog(dir.file("changes.jsonl"), key_names, value_names));
        }
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
  EXPECT_GT(requalified, 0u) << "the data must make keys qualify, stop qualifying and qualify again";
}

const Case kCases[] = {
    {"having_sum",
     "SELECT k, SUM(v) AS s, COUNT(*) AS c FROM src GROUP BY k HAVING SUM(v) >= 5",
     "SELECT k, SUM(v), COUNT(*) FROM src GROUP BY k HAVING SUM(v) >= 5", "k BIGINT, s BIGINT, c BIGINT", "k", 1, 0,
     0},
    {"where_over_subquery",
     "SELECT * FROM (SELECT k, SUM(v) AS s, MAX(v) AS m FROM src GROUP BY k) AS x WHERE s >= 5 AND m < 10",
     "SELECT k, SUM(v), MAX(v) FROM src GROUP BY k HAVING SUM(v) >= 5 AND MAX(v) < 10", "k BIGINT, s BIGINT, m BIGINT",
     "k", 1, 0, 0},
    {"having_projection_without_aggregate",
     "SELECT k, COUNT(*) AS c FROM src GROUP BY k HAVING SUM(v) >= 5 AND MIN(v) > -8",
     "SELECT k, COUNT(*) FROM src GROUP BY k HAVING SUM(v) >= 5 AND MIN(v) > -8", "k BIGINT, c BIGINT", "k", 1, 0, 0},
    {"global_having", "SELECT SUM(v) AS s, COUNT(*) AS c FROM src HAVING SUM(v) >= 5",
     "SELECT SUM(v), COUNT(*) FROM src HAVING SUM(v) >= 5", "s BIGINT, c BIGINT", "", 0, 0, 0},
    {"tumble_allowed_lateness_having",
     "SELECT k, window_start, window_end, SUM(v) AS s FROM TUMBLE(src, ts, INTERVAL '20 seconds') "
     "GROUP BY k, window_start, window_end HAVING SUM(v) >= 5",
     "SELECT k, ws, we, SUM(v) FROM src GROUP BY k, ws HAVING SUM(v) >= 5",
     "k BIGINT, window_start TIMESTAMP, window_end TIMESTAMP, s BIGINT", "k,window_start", 2, 20 * kSecond, 30},
};

INSTANTIATE_TEST_SUITE_P(Queries, HavingDifferentialTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace sluice
