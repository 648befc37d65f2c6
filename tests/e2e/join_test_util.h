// Test support for the join differential tests (join_differential_test.cc,
// time_join_differential_test.cc): random streams with disorder and NULL keys, their JSON
// lines and output rows, and running a join of two such tables at several parallelisms and
// batch sizes against an expected multiset (folded by join_differential.h), optionally
// checking that the output is insert-only and how many rows went to the late-data outputs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/time_util.h"
#include "join_differential.h"
#include "test_helpers.h"

namespace sluice::join_testing {

struct Row {
  int64_t k;  // -1: NULL
  int64_t v;
  Micros ts;
};

// `n` rows, event times advancing by up to 1.5 s and moved back by up to `disorder_ms`
// (within the tables' 4 s watermark delay by default: no row is late), keys 0..`keys` - 1
// with 5% NULLs.
inline std::vector<Row> generate(uint64_t seed, int n, int64_t disorder_ms = 3000, int64_t keys = 13) {
  testing::Rng rng{seed};
  std::vector<Row> rows;
  Micros t = 1700000000LL * kMicrosPerSecond;
  for (int i = 0; i < n; ++i) {
    t += rng.uniform(0, 1500) * kMicrosPerMilli;
    const int64_t k = rng.chance(0.05) ? -1 : rng.uniform(0, keys - 1);
    rows.push_back({k, rng.uniform(0, 30), t - rng.uniform(0, disorder_ms) * kMicrosPerMilli});
  }
  return rows;
}

inline std::string key_text(int64_t k) { return k < 0 ? "null" : std::to_string(k); }

inline std::string jsonl(const std::vector<Row>& rows) {
  std::string out;
  for (const auto& r : rows) {
    out += fmt::format("{{\"k\": {}, \"v\": {}, \"ts\": \"{}\"}}\n", key_text(r.k), r.v, format_timestamp(r.ts));
  }
  return out;
}

using testing::fold_changelog;
using testing::Multiset;

// Retractions (-D / -U lines) in a changelog file.
inline int retractions(const std::string& text) {
  int n = 0;
  for (size_t pos = 0; (pos = text.find("\"op\":\"-", pos)) != std::string::npos; ++pos) ++n;
  return n;
}

// One output row {"lk":..,"v":..,"rk":..,"w":..}; a null side is all NULLs.
inline std::string out_row(const Row* l, const Row* r, int64_t r_value) {
  auto side = [](const char* k, const char* v, const Row* x, int64_t value) {
    if (!x) return fmt::format("\"{}\":null,\"{}\":null", k, v);
    return fmt::format("\"{}\":{},\"{}\":{}", k, key_text(x->k), v, value);
  };
  return fmt::format("{{{},{}}}", side("lk", "v", l, l ? l->v : 0), side("rk", "w", r, r_value));
}

struct JoinRun {
  // Columns of the sink table `out` (a changelog file sink).
  std::string out_columns = "lk BIGINT, v BIGINT, rk BIGINT, w BIGINT";
  std::string table_options;  // extra WITH options of both source tables
  bool insert_only = false;   // the output must have no retraction
  int expected_late = -1;     // >= 0: rows the late-data outputs (l.late.jsonl, r.late.jsonl) must hold
};

// Runs `query` (an INSERT INTO out ...) over tables l and r (k, v, ts; event time ts with a
// 4 s watermark delay) at parallelism 1 and 4 and batch sizes 1, 7 and 4096; the folded
// output must equal `want` each time.
inline void check_join(const std::vector<Row>& left, const std::vector<Row>& right, const std::string& query,
                       const Multiset& want, const JoinRun& run = JoinRun()) {
  testing::TempDir dir;
  testing::write_file(dir.file("l.jsonl"), jsonl(left));
  testing::write_file(dir.file("r.jsonl"), jsonl(right));
  const std::string sql = testing::with_dir(fmt::format(R"(
      CREATE TABLE l (k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{{DIR}}/l.jsonl',
        event_time = 'ts', watermark_delay = '4s', late_output = '{{DIR}}/l.late.jsonl'{0});
      CREATE TABLE r (k BIGINT, v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{{DIR}}/r.jsonl',
        event_time = 'ts', watermark_delay = '4s', late_output = '{{DIR}}/r.late.jsonl'{0});
      CREATE TABLE out ({1}) WITH (connector = 'file', path = '{{DIR}}/out.jsonl', changelog = 'true');
    )",
                                                        run.table_options, run.out_columns) +
                                                query,
                                            dir.path());
  testing::write_file(dir.file("job.sql"), sql);
  for (int parallelism : {1, 4}) {
    for (int batch : {1, 7, 4096}) {
      SCOPED_TRACE(::testing::Message() << "parallelism " << parallelism << " batch " << batch);
      std::remove(dir.file("out.jsonl").c_str());
      auto r = testing::run_sluice(fmt::format("run -q --parallelism {} --batch-size {} job.sql", parallelism, batch),
                                   dir.path());
      ASSERT_EQ(r.exit_code, 0) << r.output;
      const std::string text = testing::read_file(dir.file("out.jsonl"));
      EXPECT_EQ(fold_changelog(text), want);
      if (run.insert_only) {
        EXPECT_EQ(retractions(text), 0) << "an append-only join emitted retractions";
      }
      if (run.expected_late >= 0) {
        size_t late = 0;
        for (const char* name : {"l.late.jsonl", "r.late.jsonl"}) {
          const std::string path = dir.file(name);
          if (!std::filesystem::exists(path)) continue;
          const std::string text = testing::read_file(path);
          late += static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
        }
        EXPECT_EQ(late, static_cast<size_t>(run.expected_late));
      }
    }
  }
}

}  // namespace sluice::join_testing
