// The jobs of an Engine register in one metrics registry, told apart by their `job` label
// (the job's name): what a process serving /metrics exposes.
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "engine/engine.h"

namespace sluice::engine {
namespace {

TEST(EngineMetrics, JobsOfOneEngineShareARegistryLabelledByJobName) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sluice_engine_metrics_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string dir = tmpl;
  Engine engine;
  for (auto [name, n] : {std::pair<std::string, int>{"alpha", 30}, {"beta", 70}}) {
    {
      std::ofstream in(dir + "/" + name + ".in");
      for (int i = 0; i < n; ++i) in << "{\"n\": " << i << "}\n";
    }
    std::string sql = "CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '" + dir + "/" + name +
                      ".in');\nCREATE TABLE out () WITH (connector = 'file', path = '" + dir + "/" + name +
                      ".out');\nINSERT INTO out SELECT n FROM src WHERE n % 2 = 0;\n";
    auto prepared = prepare_sql(sql, name + ".sql");
    ASSERT_TRUE(prepared.is_ok()) << prepared.status().message();
    ASSERT_TRUE(engine.submit(std::move(prepared.value())).is_ok());
  }
  ASSERT_TRUE(engine.wait_all().is_ok());
  const std::string text = render_prometheus_text(engine.metrics().collect());
  EXPECT_NE(text.find("sluice_source_records_total{job=\"alpha\",source=\"src\",instance=\"0\"} 30\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_source_records_total{job=\"beta\",source=\"src\",instance=\"0\"} 70\n"),
            std::string::npos)
      << text;
  for (const auto& f : engine.metrics().collect()) {
    if (f.name != "sluice_records_out_total") continue;
    int64_t alpha_sink = -1, beta_sink = -1;
    for (const auto& s : f.series) {
      if (s.label_values[2] != "sink") continue;
      (s.label_values[0] == "alpha" ? alpha_sink : beta_sink) = s.raw_value;
    }
    EXPECT_EQ(alpha_sink, 15);
    EXPECT_EQ(beta_sink, 35);
  }
  EXPECT_EQ(engine.find("beta")->status().records_in, 70u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::engine
