#include "metrics/registry.h"

#include <thread>

#include <gtest/gtest.h>

namespace sluice {
namespace {

const FamilySnapshot* family(const std::vector<FamilySnapshot>& all, const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(MetricsRegistryTest, CountersWithLabelsAreReadBack) {
  MetricsRegistry registry;
  auto& records = registry.counter("test_records_total", "Records seen.", {"job", "operator", "instance"});
  Counter& a = records.series({"j", "filter", "0"});
  Counter& b = records.series({"j", "filter", "1"});
  a.add(5);
  a.increment();
  b.add(7);
  EXPECT_EQ(&records.series({"j", "filter", "0"}), &a) << "looking a series up again returns the same one";
  EXPECT_EQ(records.find({"j", "filter", "1"}), &b);
  EXPECT_EQ(records.find({"j", "filter", "2"}), nullptr);

  auto all = registry.collect();
  const FamilySnapshot* f = family(all, "test_records_total");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, MetricType::kCounter);
  EXPECT_EQ(f->help, "Records seen.");
  EXPECT_EQ(f->label_names, (std::vector<std::string>{"job", "operator", "instance"}));
  ASSERT_EQ(f->series.size(), 2u);
  EXPECT_EQ(f->find({"j", "filter", "0"})->raw_value, 6);
  EXPECT_EQ(f->find({"j", "filter", "0"})->value, 6.0);
  EXPECT_EQ(f->find({"j", "filter", "1"})->raw_value, 7);
}

TEST(MetricsRegistryTest, GaugesStartAtTheirInitialValueAndAreScaled) {
  MetricsRegistry registry;
  auto& wm = registry.gauge("test_watermark_seconds", "Watermark.", {"source"}, 1e6, -1);
  Gauge& g = wm.series({"clicks"});
  EXPECT_EQ(g.value(), -1);
  g.set(2'500'000);
  g.add(500'000);
  auto all = registry.collect();
  const auto* s = family(all, "test_watermark_seconds")->find({"clicks"});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->raw_value, 3'000'000);
  EXPECT_DOUBLE_EQ(s->value, 3.0);
}

TEST(MetricsRegistryTest, HistogramCountsObservationsInFixedBuckets) {
  MetricsRegistry registry;
  // Microseconds exposed as seconds: buckets 1 ms, 10 ms, 100 ms, then +Inf.
  auto& d = registry.histogram("test_duration_seconds", "Durations.", {"job"}, {1000, 10'000, 100'000}, 1e6);
  Histogram& h = d.series({"j"});
  h.observe(500);      // <= 1 ms
  h.observe(1000);     // == 1 ms: bounds are inclusive
  h.observe(20'000);   // <= 100 ms
  h.observe(900'000);  // +Inf
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum(), 921'500);
  EXPECT_EQ(h.bucket_counts(), (std::vector<uint64_t>{2, 0, 1, 1}));

  auto all = registry.collect();
  const FamilySnapshot* f = family(all, "test_duration_seconds");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->type, MetricType::kHistogram);
  EXPECT_EQ(f->bucket_bounds, (std::vector<double>{0.001, 0.01, 0.1}));
  const auto* s = f->find({"j"});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->cumulative_counts, (std::vector<uint64_t>{2, 2, 3, 4}));
  EXPECT_EQ(s->count, 4u);
  EXPECT_DOUBLE_EQ(s->sum, 0.9215);
}

TEST(MetricsRegistryTest, AskingForAFamilyAgainReturnsTheSameOne) {
  MetricsRegistry registry;
  auto& a = registry.counter("test_total", "x", {"a"});
  auto& b = registry.counter("test_total", "x", {"a"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(registry.collect().size(), 1u);
}

TEST(MetricsRegistryDeathTest, ConflictingDefinitionsAreABug) {
  MetricsRegistry registry;
  registry.counter("test_total", "x", {"a"});
  EXPECT_DEATH(registry.counter("test_total", "x", {"b"}), "registered twice");
  EXPECT_DEATH(registry.gauge("test_total", "x", {"a"}), "registered twice");
  EXPECT_DEATH(registry.counter("bad-name", "x", {}), "invalid metric name");
  EXPECT_DEATH(registry.histogram("test_h", "x", {"le"}, {1}), "label 'le'");
  EXPECT_DEATH(registry.counter("test_total", "x", {"a"}).series({"1", "2"}), "label values");
}

TEST(MetricsRegistryTest, RendersTheTextExpositionFormat) {
  MetricsRegistry registry;
  registry.counter("sluice_records_in_total", "Records that entered an operator.", {"job", "operator", "instance"})
      .series({"clicks", "per_page.filter-1", "0"})
      .add(42);
  registry.gauge("sluice_watermark_seconds", "Help with a \\ backslash\nand a newline.", {"source"}, 1e6)
      .series({"a \"quoted\"\nname\\"})
      .set(1'500'000);
  auto& h = registry.histogram("sluice_checkpoint_duration_seconds", "Checkpoint durations.", {"job"},
                               {100'000, 1'000'000}, 1e6);
  h.series({"clicks"}).observe(250'000);
  registry.counter("sluice_unused_total", "Never looked up: not rendered.", {"job"});
  registry.counter("sluice_plain_total", "No labels.", {}).series({}).add(3);

  EXPECT_EQ(render_prometheus_text(registry.collect()),
            "# HELP sluice_records_in_total Records that entered an operator.\n"
            "# TYPE sluice_records_in_total counter\n"
            "sluice_records_in_total{job=\"clicks\",operator=\"per_page.filter-1\",instance=\"0\"} 42\n"
            "# HELP sluice_watermark_seconds Help with a \\\\ backslash\\nand a newline.\n"
            "# TYPE sluice_watermark_seconds gauge\n"
            "sluice_watermark_seconds{source=\"a \\\"quoted\\\"\\nname\\\\\"} 1.5\n"
            "# HELP sluice_checkpoint_duration_seconds Checkpoint durations.\n"
            "# TYPE sluice_checkpoint_duration_seconds histogram\n"
            "sluice_checkpoint_duration_seconds_bucket{job=\"clicks\",le=\"0.1\"} 0\n"
            "sluice_checkpoint_duration_seconds_bucket{job=\"clicks\",le=\"1\"} 1\n"
            "sluice_checkpoint_duration_seconds_bucket{job=\"clicks\",le=\"+Inf\"} 1\n"
            "sluice_checkpoint_duration_seconds_sum{job=\"clicks\"} 0.25\n"
            "sluice_checkpoint_duration_seconds_count{job=\"clicks\"} 1\n"
            "# HELP sluice_plain_total No labels.\n"
            "# TYPE sluice_plain_total counter\n"
            "sluice_plain_total 3\n");
}

// Task threads update their series while a scraper collects (run under TSan in CI).
TEST(MetricsRegistryTest, ConcurrentUpdatesAndCollectsAreSafe) {
  MetricsRegistry registry;
  auto& c = registry.counter("test_total", "x", {"instance"});
  auto& h = registry.histogram("test_h", "x", {"instance"}, {10, 100});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Counter& mine = c.series({std::to_string(t)});
      Histogram& hist = h.series({std::to_string(t)});
      for (int i = 0; i < 10'000; ++i) {
        mine.add(1);
        hist.observe(i % 200);
      }
    });
  }
  for (int i = 0; i < 20; ++i) (void)render_prometheus_text(registry.collect());
  for (auto& t : threads) t.join();
  auto all = registry.collect();
  uint64_t total = 0;
  for (const auto& s : family(all, "test_total")->series) total += static_cast<uint64_t>(s.raw_value);
  EXPECT_EQ(total, 40'000u);
  for (const auto& s : family(all, "test_h")->series) EXPECT_EQ(s.count, 10'000u);
}

}  // namespace
}  // namespace sluice
