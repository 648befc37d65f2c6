// The jobs of an Engine register in one metrics registry, told apart by their `job` label
// (the name they were submitted under): what a process serving /metrics exposes. Checked
// against what the jobs really did (their output, their dead-letter files, their status),
// and the text exposition checked by Prometheus' own linter (promtool).
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "common/scoped_temp_dir.h"

namespace sluice::engine {
namespace {

class TempDir : public ScopedTempDir {
 public:
  TempDir() : ScopedTempDir("sluice_engine_metrics") {}
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int64_t count_lines(const std::string& path) {
  std::ifstream in(path);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// `good` records n = 0..good-1 with `bad` undecodable lines interleaved; the job keeps the
// even ones. Side outputs and output in `dir`, named after the job.
std::string write_job(const TempDir& dir, const std::string& name, int good, int bad) {
  {
    std::ofstream in(dir.file(name + ".in"));
    for (int i = 0; i < good; ++i) {
      in << "{\"n\": " << i << "}\n";
      if (i < bad) in << "not json " << i << "\n";
    }
  }
  return "CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '" + dir.file(name + ".in") + "', dlq = '" +
         dir.file(name + ".dlq.jsonl") + "');\nCREATE TABLE out () WITH (connector = 'file', path = '" +
         dir.file(name + ".out") + "');\nINSERT INTO out SELECT n FROM src WHERE n % 2 = 0;\n";
}

const FamilySnapshot* family(const std::vector<FamilySnapshot>& all, const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return &f;
  }
  ADD_FAILURE() << "no metric family " << name;
  return nullptr;
}

// Sum over the series of `name` with job = `job` and, for operator families, kind = `kind`.
int64_t sum_of(const std::vector<FamilySnapshot>& all, const std::string& name, const std::string& job,
               const std::string& kind = "") {
  const FamilySnapshot* f = family(all, name);
  if (f == nullptr) return -1;
  EXPECT_EQ(f->label_names[0], "job");
  int64_t total = 0;
  int found = 0;
  std::string seen;
  for (const auto& s : f->series) {
    if (s.label_values[0] != job) continue;
    for (size_t l = 1; l < s.label_values.size(); ++l) seen += (l == 1 ? " " : "/") + s.label_values[l];
    if (!kind.empty() && s.label_values[2] != kind) continue;
    total += s.raw_value;
    ++found;
  }
  EXPECT_GT(found, 0) << name << " has no series of job " << job << " " << kind << "; seen:" << seen;
  return total;
}

struct Expected {
  std::string name;
  int good;
  int bad;
};

void expect_counts(const Engine& engine, const TempDir& dir, const Expected& e) {
  const auto all = engine.metrics().collect();
  const int64_t kept = count_lines(dir.file(e.name + ".out"));
  EXPECT_EQ(kept, (e.good + 1) / 2) << e.name;
  const int64_t dead = count_lines(dir.file(e.name + ".dlq.jsonl"));
  EXPECT_EQ(dead, e.bad) << e.name;
  const JobStatus st = engine.find(e.name)->status();
  EXPECT_EQ(st.state, JobState::kFinished) << e.name;

  // Sources: every input line is a record; the undecodable ones are dead-lettered.
  EXPECT_EQ(sum_of(all, "sluice_source_records_total", e.name), e.good + e.bad) << e.name;
  EXPECT_EQ(sum_of(all, "sluice_source_records_total", e.name), static_cast<int64_t>(st.records_in)) << e.name;
  EXPECT_EQ(sum_of(all, "sluice_dead_lettered_records_total", e.name), dead) << e.name;
  EXPECT_EQ(sum_of(all, "sluice_dead_lettered_records_total", e.name), static_cast<int64_t>(st.dead_lettered))
      << e.name;
  // Operators: the filter sees the decoded rows and keeps the even ones; the sink writes them.
  EXPECT_EQ(sum_of(all, "sluice_records_in_total", e.name, "filter"), e.good) << e.name;
  EXPECT_EQ(sum_of(all, "sluice_records_out_total", e.name, "filter"), kept) << e.name;
  EXPECT_EQ(sum_of(all, "sluice_records_in_total", e.name, "sink"), kept) << e.name;
  EXPECT_EQ(sum_of(all, "sluice_records_out_total", e.name, "sink"), kept) << e.name;
}

TEST(EngineMetrics, JobsOfOneEngineShareARegistryLabelledByJobName) {
  TempDir dir;
  Engine engine;
  const std::vector<Expected> jobs = {{"alpha", 30, 3}, {"beta", 71, 5}};
  for (const auto& e : jobs) {
    auto prepared = prepare_sql(write_job(dir, e.name, e.good, e.bad), e.name + ".sql");
    ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
    auto submitted = engine.submit(std::move(prepared.value()));
    ASSERT_TRUE(submitted.is_ok()) << submitted.status().message();
  }
  Status s = engine.wait_all();
  ASSERT_TRUE(s.is_ok()) << s.message();
  for (const auto& e : jobs) expect_counts(engine, dir, e);

  // The exposition names each job in its series.
  const std::string text = engine.metrics_text();
  EXPECT_NE(text.find("# TYPE sluice_source_records_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_source_records_total{job=\"alpha\",source=\"src\",instance=\"0\"} 33\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_source_records_total{job=\"beta\",source=\"src\",instance=\"0\"} 76\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_dead_lettered_records_total{job=\"beta\",source=\"src\",instance=\"0\"} 5\n"),
            std::string::npos)
      << text;

  // Submitted again under its name, a job's series start over: they count the new run only.
  const Expected again{"alpha", 10, 1};
  auto prepared = prepare_sql(write_job(dir, again.name, again.good, again.bad), "alpha.sql");
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  ASSERT_TRUE(engine.submit(std::move(prepared.value())).is_ok());
  s = engine.wait_all();
  ASSERT_TRUE(s.is_ok()) << s.message();
  expect_counts(engine, dir, again);
  expect_counts(engine, dir, jobs[1]);  // beta's untouched
}

// What /metrics will serve passes `promtool check metrics` (Prometheus' parser and linter):
// a real job with every family (operators, sources, checkpoint counters, gauges and
// histograms). promtool comes with Debian's `prometheus` package (scripts/install-deps.sh);
// missing, the test fails.
TEST(EngineMetrics, ExpositionPassesPromtool) {
  TempDir dir;
  {
    std::ofstream in(dir.file("ev.jsonl"));
    in << "{\"k\":1,\"ts\":\"2024-01-01T00:00:10Z\"}\n"
          "not json\n"
          "{\"k\":2,\"ts\":\"2024-01-01T00:02:10Z\"}\n"
          "{\"k\":3,\"ts\":\"2024-01-01T00:00:20Z\"}\n";
  }
  const std::string sql = "CREATE TABLE ev (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '" +
                          dir.file("ev.jsonl") + "', event_time = 'ts', watermark_delay = '0 seconds', dlq = '" +
                          dir.file("ev.dlq.jsonl") + "', late_output = '" + dir.file("ev.late.jsonl") + "');\n" +
                          "CREATE TABLE out () WITH (connector = 'file', path = '" + dir.file("out.jsonl") + "');\n" +
                          "SET checkpoint_dir = '" + dir.file("ck") + "';\n" +
                          "INSERT INTO out SELECT window_start, COUNT(*) AS c FROM TUMBLE(ev, ts, INTERVAL '1 minute') "
                          "GROUP BY window_start, window_end;\n";
  Engine engine;
  auto prepared = prepare_sql(sql, "lint.sql");
  ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
  ASSERT_TRUE(engine.submit(std::move(prepared.value())).is_ok());
  Status s = engine.wait_all();
  ASSERT_TRUE(s.is_ok()) << s.message();
  const std::string text = engine.metrics_text();
  for (const char* name : {"sluice_records_in_total", "sluice_late_records_total", "sluice_source_watermark_seconds",
                           "sluice_checkpoint_duration_seconds_bucket", "sluice_checkpoint_size_bytes_count",
                           "sluice_checkpoints_completed_total{job=\"lint\"} 1\n",
                           "sluice_source_late_records_total{job=\"lint\",source=\"ev\",instance=\"0\"} 1\n"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << " missing from\n" << text;
  }
  {
    std::ofstream out(dir.file("metrics.txt"));
    out << text;
  }
  const std::string cmd =
      "promtool check metrics < '" + dir.file("metrics.txt") + "' > '" + dir.file("promtool.out") + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  const std::string said = read_file(dir.file("promtool.out"));
  ASSERT_TRUE(WIFEXITED(rc)) << cmd;
  EXPECT_EQ(WEXITSTATUS(rc), 0) << "promtool check metrics (127: promtool not installed, see "
                                   "scripts/install-deps.sh):\n"
                                << said << "\n---\n"
                                << text;
  EXPECT_EQ(said, "") << "promtool's lint findings";
}

}  // namespace
}  // namespace sluice::engine
