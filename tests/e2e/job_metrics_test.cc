// A small pipeline runs in-process with a shared metrics registry; afterwards the registry
// holds every counter the job keeps (docs/metrics.md) with the values the input implies:
// records in/out per operator, the source's records, bytes, dead letters and watermark,
// late rows, backpressure time, and the checkpoint statistics.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "plan/physical_planner.h"
#include "runtime/job.h"
#include "sql/compiler.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::TempDir;
using testing::write_file;

// Line 3 is malformed (dead-lettered); line 4 is late for its window (the watermark is
// already 00:01:30); line 6 is filtered out by the WHERE clause.
const char* kInput =
    "{\"k\":1,\"ts\":\"2024-01-01T00:00:10Z\"}\n"
    "{\"k\":1,\"ts\":\"2024-01-01T00:01:30Z\"}\n"
    "not json\n"
    "{\"k\":2,\"ts\":\"2024-01-01T00:00:20Z\"}\n"
    "{\"k\":5,\"ts\":\"2024-01-01T00:02:10Z\"}\n"
    "{\"k\":-1,\"ts\":\"2024-01-01T00:02:20Z\"}\n";

std::string job_sql(const std::string& dir) {
  return "CREATE TABLE ev (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '" + dir +
         "/ev.jsonl', format = 'json', event_time = 'ts', watermark_delay = '0 seconds', dlq = '" + dir +
         "/ev.dlq.jsonl', late_output = '" + dir +
         "/ev.late.jsonl');\n"
         "CREATE TABLE out (window_start TIMESTAMP, c BIGINT) WITH (connector = 'file', path = '" +
         dir +
         "/out.jsonl', format = 'json');\n"
         "INSERT INTO out SELECT window_start, COUNT(*) AS c FROM TUMBLE(ev, ts, INTERVAL '1 minute') "
         "WHERE k > 0 GROUP BY window_start, window_end;\n";
}

const FamilySnapshot& family(const std::vector<FamilySnapshot>& all, const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return f;
  }
  static const FamilySnapshot none;
  ADD_FAILURE() << "no metric family " << name;
  return none;
}

// The value of the one series of `name` whose label `label` is `value` (-1 if none).
int64_t value_where(const std::vector<FamilySnapshot>& all, const std::string& name, const std::string& label,
                    const std::string& value) {
  const FamilySnapshot& f = family(all, name);
  for (size_t l = 0; l < f.label_names.size(); ++l) {
    if (f.label_names[l] != label) continue;
    for (const auto& s : f.series) {
      if (s.label_values[l] == value) return s.raw_value;
    }
  }
  ADD_FAILURE() << "no series of " << name << " with " << label << "=" << value;
  return -1;
}

class JobMetricsTest : public ::testing::TestWithParam<int> {};

TEST_P(JobMetricsTest, EveryCounterOfASmallPipelineIsInTheRegistry) {
  const int parallelism = GetParam();
  TempDir dir;
  write_file(dir.file("ev.jsonl"), kInput);
  auto compiled = compile_sql(job_sql(dir.path()), "job.sql");
  ASSERT_TRUE(compiled.is_ok()) << compiled.status().message();
  PlanOptions po;
  po.parallelism = parallelism;
  po.checkpointing = true;
  auto plan = plan_job(compiled.value(), po);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto registry = std::make_shared<MetricsRegistry>();
  plan.value().job.options.metrics = registry;
  plan.value().job.options.checkpoint.dir = dir.file("ck");
  plan.value().job.name = "metrics_job";
  Job job(std::move(plan.value().job));
  Status s = job.run();
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(&job.metrics(), registry.get());

  const auto all = registry->collect();
  // Source: 6 records (the malformed one included), all bytes, 1 dead-lettered, watermark at the end.
  const FamilySnapshot& records = family(all, "sluice_source_records_total");
  ASSERT_EQ(records.label_names, (std::vector<std::string>{"job", "source", "instance"}));
  ASSERT_NE(records.find({"metrics_job", "ev", "0"}), nullptr);
  EXPECT_EQ(records.find({"metrics_job", "ev", "0"})->raw_value, 6);
  // Bytes of the records, line terminators excluded (6 lines).
  EXPECT_EQ(value_where(all, "sluice_source_bytes_total", "source", "ev"),
            static_cast<int64_t>(std::string(kInput).size()) - 6);
  EXPECT_EQ(value_where(all, "sluice_dead_lettered_records_total", "source", "ev"), 1);
  // The late record, once in the late-data output.
  EXPECT_EQ(value_where(all, "sluice_source_late_records_total", "source", "ev"), 1);
  const std::string late = testing::read_file(dir.file("ev.late.jsonl"));
  EXPECT_EQ(std::count(late.begin(), late.end(), '\n'), 1) << late;
  EXPECT_NE(late.find("\"line\":4"), std::string::npos) << late;
  EXPECT_EQ(value_where(all, "sluice_source_watermark_seconds", "source", "ev"), kMaxWatermark);

  // Operators, summed over instances, found by kind: 5 decoded rows, 4 pass the filter, 1
  // is late, 3 windows of one row each reach the sink.
  auto sum_by_kind = [&](const std::string& name, const std::string& kind) {
    const FamilySnapshot& f = family(all, name);
    EXPECT_EQ(f.label_names, (std::vector<std::string>{"job", "operator", "kind", "instance"}));
    int64_t total = 0;
    int found = 0;
    for (const auto& series : f.series) {
      if (series.label_values[2] != kind) continue;
      EXPECT_EQ(series.label_values[0], "metrics_job");
      total += series.raw_value;
      ++found;
    }
    EXPECT_GT(found, 0) << name << " has no series of kind " << kind;
    return total;
  };
  EXPECT_EQ(sum_by_kind("sluice_records_in_total", "filter_project"), 5);
  EXPECT_EQ(sum_by_kind("sluice_records_out_total", "filter_project"), 4);
  EXPECT_EQ(sum_by_kind("sluice_records_in_total", "late_filter"), 4);
  EXPECT_EQ(sum_by_kind("sluice_records_out_total", "late_filter"), 3);
  EXPECT_EQ(sum_by_kind("sluice_late_records_total", "late_filter"), 1);
  EXPECT_EQ(sum_by_kind("sluice_records_in_total", "window_aggregate"), 3);
  EXPECT_EQ(sum_by_kind("sluice_records_out_total", "window_aggregate"), 3);
  EXPECT_EQ(sum_by_kind("sluice_records_in_total", "sink"), 3);
  EXPECT_EQ(sum_by_kind("sluice_records_out_total", "sink"), 3);
  EXPECT_GE(sum_by_kind("sluice_backpressure_seconds_total", "window_aggregate"), 0);
  // Every instance of the sink saw the end of input.
  for (const auto& series : family(all, "sluice_operator_watermark_seconds").series) {
    if (series.label_values[2] == "sink") {
      EXPECT_EQ(series.raw_value, kMaxWatermark);
    }
  }

  // Checkpoints: no interval, so only the final checkpoint (id 1).
  EXPECT_EQ(value_where(all, "sluice_checkpoints_completed_total", "job", "metrics_job"), 1);
  EXPECT_EQ(value_where(all, "sluice_checkpoints_failed_total", "job", "metrics_job"), 0);
  EXPECT_EQ(value_where(all, "sluice_checkpoint_last_completed_id", "job", "metrics_job"), 1);
  EXPECT_EQ(value_where(all, "sluice_checkpoint_restored_id", "job", "metrics_job"), 0);
  const int64_t size = value_where(all, "sluice_checkpoint_last_size_bytes", "job", "metrics_job");
  EXPECT_GT(size, 0);
  const SeriesSnapshot* sizes = family(all, "sluice_checkpoint_size_bytes").find({"metrics_job"});
  ASSERT_NE(sizes, nullptr);
  EXPECT_EQ(sizes->count, 1u);
  EXPECT_EQ(sizes->sum, static_cast<double>(size));
  const SeriesSnapshot* durations = family(all, "sluice_checkpoint_duration_seconds").find({"metrics_job"});
  ASSERT_NE(durations, nullptr);
  EXPECT_EQ(durations->count, 1u);

  // The job's own handles read the same series.
  uint64_t in = 0;
  for (const SourceMetrics* m : job.source_metrics()) in += m->records->value();
  EXPECT_EQ(in, 6u);
  ASSERT_NE(job.checkpoint_metrics(), nullptr);
  EXPECT_EQ(job.checkpoint_metrics()->completed->value(), 1u);

  // And the text exposition shows them with their labels.
  const std::string text = render_prometheus_text(all);
  EXPECT_NE(text.find("# TYPE sluice_records_in_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_source_records_total{job=\"metrics_job\",source=\"ev\",instance=\"0\"} 6\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_dead_lettered_records_total{job=\"metrics_job\",source=\"ev\",instance=\"0\"} 1\n"),
            std::string::npos)
      << text;
}

// State size per operator: an updating GROUP BY holds one entry per group (summed over its
// instances) and wrote its state into the final checkpoint; stateless operators say -1.
TEST_P(JobMetricsTest, StateSizePerOperatorIsInTheRegistry) {
  const int parallelism = GetParam();
  TempDir dir;
  std::string input;
  for (int i = 0; i < 1000; ++i) input += "{\"k\":" + std::to_string(i % 37) + ",\"ts\":\"2024-01-01T00:00:10Z\"}\n";
  write_file(dir.file("ev.jsonl"), input);
  const std::string sql = "CREATE TABLE ev (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '" +
                          dir.file("ev.jsonl") +
                          "');\n"
                          "CREATE TABLE out (k BIGINT, n BIGINT) WITH (connector = 'sqlite', path = '" +
                          dir.file("out.db") +
                          "', primary_key = 'k');\n"
                          "INSERT INTO out SELECT k, COUNT(*) AS n FROM ev WHERE k >= 0 GROUP BY k;\n";
  auto compiled = compile_sql(sql, "job.sql");
  ASSERT_TRUE(compiled.is_ok()) << compiled.status().message();
  PlanOptions po;
  po.parallelism = parallelism;
  po.checkpointing = true;
  auto plan = plan_job(compiled.value(), po);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto registry = std::make_shared<MetricsRegistry>();
  plan.value().job.options.metrics = registry;
  plan.value().job.options.checkpoint.dir = dir.file("ck");
  plan.value().job.name = "state_job";
  Job job(std::move(plan.value().job));
  Status s = job.run();
  ASSERT_TRUE(s.is_ok()) << s.message();
  const auto all = registry->collect();
  auto by_kind = [&](const std::string& name, const std::string& kind) {
    std::vector<int64_t> values;
    for (const auto& series : family(all, name).series) {
      if (series.label_values[2] == kind) values.push_back(series.raw_value);
    }
    return values;
  };
  const auto entries = by_kind("sluice_operator_state_entries", "group_aggregate");
  ASSERT_EQ(entries.size(), static_cast<size_t>(parallelism));
  int64_t groups = 0;
  for (int64_t e : entries) groups += e;
  EXPECT_EQ(groups, 37) << "one entry per group";
  int64_t written = 0;
  for (int64_t b : by_kind("sluice_operator_state_snapshot_bytes", "group_aggregate")) written += b;
  EXPECT_GT(written, 37 * 8) << "the final checkpoint holds every group's key and count";
  for (int64_t e : by_kind("sluice_operator_state_entries", "filter_project")) EXPECT_EQ(e, -1);
  const std::string text = render_prometheus_text(all);
  EXPECT_NE(text.find("# TYPE sluice_operator_state_entries gauge\n"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Parallelism, JobMetricsTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace sluice
