// User-defined aggregate functions registered from C++ and called from SQL: grouped and
// windowed (session windows merge their states), NULL handling, and misuse.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "plan/physical_planner.h"
#include "runtime/job.h"
#include "sluice/udf.h"
#include "sql/compiler.h"

namespace sluice {
namespace {

struct Range {
  bool any = false;
  double lo = 0, hi = 0;
};

void register_value_range() {
  static bool done = false;
  if (done) return;
  done = true;
  Status s = api::register_aggregate_function<Range>(
      "value_range",
      [](Range& r, double v) {
        r.lo = r.any ? std::min(r.lo, v) : v;
        r.hi = r.any ? std::max(r.hi, v) : v;
        r.any = true;
      },
      [](Range& into, const Range& from) {
        if (!from.any) return;
        into.lo = into.any ? std::min(into.lo, from.lo) : from.lo;
        into.hi = into.any ? std::max(into.hi, from.hi) : from.hi;
        into.any = true;
      },
      [](const Range& r) -> std::optional<double> {
        if (!r.any) return std::nullopt;
        return r.hi - r.lo;
      });
  ASSERT_TRUE(s.is_ok()) << s.message();
  // NULL-aware UDAF: counts NULL arguments.
  s = api::register_aggregate_function<int64_t>(
      "count_nulls", [](int64_t& n, std::optional<int64_t> v) { n += v ? 0 : 1; },
      [](int64_t& into, const int64_t& from) { into += from; }, [](const int64_t& n) { return n; });
  ASSERT_TRUE(s.is_ok()) << s.message();
}

std::string run(const std::string& sql_template, const std::string& input, int parallelism) {
  auto dir = std::filesystem::temp_directory_path() / ("udaf-" + std::to_string(::getpid()) + "-" + std::to_string(parallelism));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "in.jsonl") << input;
  std::string sql = sql_template;
  for (size_t pos; (pos = sql.find("{DIR}")) != std::string::npos;) sql.replace(pos, 5, dir.string());
  auto job = compile_sql(sql, "udaf.sql");
  EXPECT_TRUE(job.is_ok()) << job.status().message();
  if (!job.is_ok()) return "";
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = 2;
  auto plan = plan_job(job.value(), po);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  Job j(std::move(plan.value().job));
  Status s = j.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  std::stringstream out;
  out << std::ifstream(dir / "out.jsonl").rdbuf();
  std::filesystem::remove_all(dir);
  return out.str();
}

TEST(UserAggregateTest, GroupedUdafCalledFromSql) {
  register_value_range();
  std::string out = run(R"(
    CREATE TABLE t (k TEXT, v DOUBLE PRECISION, n BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
    CREATE TABLE out (k TEXT, r DOUBLE PRECISION, nulls BIGINT)
      WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
    INSERT INTO out SELECT k, value_range(v), count_nulls(n) FROM t GROUP BY k;)",
                        "{\"k\": \"a\", \"v\": 3, \"n\": 1}\n{\"k\": \"a\", \"v\": 10, \"n\": null}\n{\"k\": \"b\", \"v\": null, \"n\": null}\n",
                        1);
  // A running result: the last value emitted per key is the final one.
  EXPECT_NE(out.find("\"k\":\"a\",\"r\":7,\"nulls\":1}"), std::string::npos) << out;
  EXPECT_NE(out.find("\"k\":\"b\",\"r\":null,\"nulls\":1}"), std::string::npos) << out;
}

TEST(UserAggregateTest, SessionWindowsMergeUdafStatesAtAnyParallelism) {
  register_value_range();
  // Key x: 0s (v=1) and 50s (v=5) are two sessions until 25s (v=20) bridges them.
  std::string input =
      "{\"k\": \"x\", \"v\": 1, \"ts\": 0}\n{\"k\": \"x\", \"v\": 5, \"ts\": 50000}\n{\"k\": \"x\", \"v\": 20, \"ts\": 25000}\n"
      "{\"k\": \"y\", \"v\": 2, \"ts\": 1000}\n{\"k\": \"x\", \"v\": 0, \"ts\": 500000}\n";
  const char* sql = R"(
    CREATE TABLE t (k TEXT, v DOUBLE PRECISION, ts TIMESTAMP)
      WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', watermark_delay = '1 minute');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k, window_start, value_range(v) AS r
    FROM SESSION(t, ts, INTERVAL '30 seconds') GROUP BY k, window_start, window_end;)";
  std::string first = run(sql, input, 1);
  EXPECT_NE(first.find("{\"k\":\"x\",\"window_start\":\"1970-01-01T00:00:00Z\",\"r\":19}"), std::string::npos) << first;
  for (int p : {2, 4}) {
    std::string out = run(sql, input, p);
    std::multiset<std::string> a, b;
    std::istringstream sa(first), sb(out);
    for (std::string l; std::getline(sa, l);) a.insert(l);
    for (std::string l; std::getline(sb, l);) b.insert(l);
    EXPECT_EQ(a, b) << "parallelism " << p;
  }
}

TEST(UserAggregateTest, MisuseIsAClearError) {
  register_value_range();
  Status taken = api::register_aggregate_function<int64_t>(
      "sum", [](int64_t&, int64_t) {}, [](int64_t&, const int64_t&) {}, [](const int64_t& n) { return n; });
  EXPECT_FALSE(taken.is_ok());
  EXPECT_NE(taken.message().find("built-in"), std::string::npos);
  auto job = compile_sql(R"(
    CREATE TABLE t (k TEXT, s TEXT) WITH (connector = 'file', path = '/dev/null');
    CREATE TABLE out () WITH (connector = 'console');
    INSERT INTO out SELECT k, value_range(s) FROM t GROUP BY k;)",
                         "bad.sql");
  ASSERT_FALSE(job.is_ok());
  EXPECT_NE(job.status().message().find("value_range(TEXT) does not exist"), std::string::npos) << job.status().message();
}

}  // namespace
}  // namespace sluice
