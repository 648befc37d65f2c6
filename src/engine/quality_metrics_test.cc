// Data-quality metrics per source against an input whose defects are known: NULLs per
// column, records that do not fit the schema, records dead-lettered for their event time,
// the newest event time and its age (freshness). Checked at parallelism 1 and 2 (two
// reader tasks add to one null series per column).
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/scoped_temp_dir.h"
#include "common/time_util.h"
#include "engine/engine.h"

namespace sluice::engine {
namespace {

class TempDir : public ScopedTempDir {
 public:
  TempDir() : ScopedTempDir("sluice_quality") {}
};

// label values (after `job`) -> raw value, of family `name` for job `job`.
std::map<std::vector<std::string>, int64_t> series(Engine& engine, const std::string& name, const std::string& job) {
  std::map<std::vector<std::string>, int64_t> out;
  bool found = false;
  for (const FamilySnapshot& f : engine.metrics().collect()) {
    if (f.name != name) continue;
    found = true;
    for (const SeriesSnapshot& s : f.series) {
      if (s.label_values[0] != job) continue;
      out[std::vector<std::string>(s.label_values.begin() + 1, s.label_values.end())] = s.raw_value;
    }
  }
  EXPECT_TRUE(found) << "no metric family " << name;
  return out;
}

int64_t total(const std::map<std::vector<std::string>, int64_t>& m) {
  int64_t t = 0;
  for (const auto& [k, v] : m) t += v;
  return t;
}

class QualityMetricsTest : public ::testing::TestWithParam<int> {};

TEST_P(QualityMetricsTest, CountsNullsSchemaViolationsAndFreshnessPerSource) {
  TempDir dir;
  // 9 lines over two files (splits): 6 good rows (uid NULL in 2; page NULL in 3, one of them
  // by a missing field), 2 that do not fit the schema (not JSON; a text where a number
  // belongs) and 1 with a NULL event time (dead-lettered, not a schema violation).
  {
    std::ofstream a(dir.file("a.jsonl"));
    a << R"({"uid": 1, "page": "x", "ts": "2024-01-01T00:00:01Z"})" << "\n"
      << R"({"uid": null, "page": "y", "ts": "2024-01-01T00:00:02Z"})" << "\n"
      << "not json\n"
      << R"({"uid": 3, "page": null, "ts": "2024-01-01T00:00:03Z"})" << "\n"
      << R"({"uid": 4, "page": "z", "ts": null})" << "\n";
    std::ofstream b(dir.file("b.jsonl"));
    b << R"({"uid": "five", "page": "x", "ts": "2024-01-01T00:00:04Z"})" << "\n"
      << R"({"uid": null, "page": null, "ts": "2024-01-01T00:00:05Z"})" << "\n"
      << R"({"uid": 7, "ts": "2024-01-01T00:00:09Z"})" << "\n"
      << R"({"uid": 8, "page": "w", "ts": "2024-01-01T00:00:06Z"})" << "\n";
  }
  const std::string sql = fmt::format(
      "CREATE TABLE clicks (uid BIGINT, page TEXT, ts TIMESTAMP) WITH (connector = 'file', path = '{}/*.jsonl', "
      "event_time = 'ts', dlq = '{}/dlq.txt');\n"
      "CREATE TABLE out () WITH (connector = 'blackhole');\n"
      "INSERT INTO out SELECT uid, page FROM clicks;\n",
      dir.path(), dir.path());
  Engine engine;
  JobOverrides o;
  o.parallelism = GetParam();
  auto prepared = prepare_sql(sql, "quality.sql", o);
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  ASSERT_TRUE(engine.submit(std::move(prepared.value())).is_ok());
  const Micros before_end = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  Status s = engine.wait_all();
  ASSERT_TRUE(s.is_ok()) << s.message();

  EXPECT_EQ(total(series(engine, "sluice_source_records_total", "quality")), 9);
  EXPECT_EQ(total(series(engine, "sluice_source_rows_total", "quality")), 6);
  EXPECT_EQ(total(series(engine, "sluice_source_schema_violations_total", "quality")), 2)
      << "not JSON, and a text for a BIGINT";
  EXPECT_EQ(total(series(engine, "sluice_dead_lettered_records_total", "quality")), 3)
      << "the two violations and the NULL event time";
  const auto nulls = series(engine, "sluice_source_null_values_total", "quality");
  EXPECT_EQ(nulls.at({"clicks", "uid"}), 2);
  EXPECT_EQ(nulls.at({"clicks", "page"}), 3) << "an explicit null twice, a missing field once";
  EXPECT_EQ(nulls.at({"clicks", "ts"}), 0);

  // The newest event read is 00:00:09, whichever reader read it; every reader that read an
  // event reports its age (about now - 2024-01-01).
  const auto newest = series(engine, "sluice_source_newest_event_timestamp_seconds", "quality");
  int64_t max_newest = kMinWatermark;
  for (const auto& [k, v] : newest) max_newest = std::max(max_newest, v);
  ASSERT_TRUE(parse_timestamp("2024-01-01T00:00:09Z").is_ok());
  EXPECT_EQ(max_newest, parse_timestamp("2024-01-01T00:00:09Z").value());
  const auto freshness = series(engine, "sluice_source_freshness_seconds", "quality");
  ASSERT_FALSE(freshness.empty());
  for (const auto& [k, age] : freshness) {
    const int64_t newest_of = newest.at(k);
    if (newest_of == kMinWatermark) {
      EXPECT_EQ(age, -1'000'000) << "a reader task without events reads -1 s";
      continue;
    }
    EXPECT_GE(age, before_end - newest_of - 60'000'000) << "about now - its newest event";
    EXPECT_LE(age, before_end - newest_of + 60'000'000);
  }
}

INSTANTIATE_TEST_SUITE_P(Parallelism, QualityMetricsTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace sluice::engine
