// Stream::score: the C++ builder binds score(...) with the SQL binder (a select list over
// the stream), so rows are scored by a real HTTP model server (scoring/testing/
// model_server.h on loopback) exactly as a .sql job's are: every row gets its model answer,
// a failing model gives the fallback, and errors name the step.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/api_test_util.h"
#include "scoring/testing/model_server.h"
#include "sluice/pipeline.h"

namespace sluice::api {
namespace {

using testing::TempDir;

class ScorePipeline : public ::testing::Test {
 protected:
  static constexpr int kRows = 200;
  void SetUp() override {
    ASSERT_GT(server_.start(), 0);
    std::string rows;
    for (int i = 0; i < kRows; ++i) rows += fmt::format("{{\"id\": {}, \"amount\": {}}}\n", i, (i * 37) % 2500);
    testing::write_file(dir_.file("tx.jsonl"), rows);
  }
  std::string url() const { return server_.url(); }
  Stream tx(Pipeline& p) {
    return p.source("tx", {field("id", TypeId::kInt64), field("amount", TypeId::kInt64)},
                    {{"connector", "file"}, {"path", dir_.file("tx.jsonl")}});
  }
  Table out(Pipeline& p) { return p.sink("out", {{"connector", "file"}, {"path", dir_.file("out.jsonl")}}); }
  // The output rows as JSON objects, by id.
  std::vector<nlohmann::json> run(const Pipeline& p, int parallelism, size_t batch_size) {
    std::filesystem::remove(dir_.file("out.jsonl"));
    RunOptions o;
    o.parallelism = parallelism;
    o.batch_size = batch_size;
    auto r = p.run(o);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    std::vector<nlohmann::json> rows;
    std::istringstream in(testing::read_file(dir_.file("out.jsonl")));
    for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a["id"] < b["id"]; });
    return rows;
  }
  testing_scoring::ModelServer server_;
  TempDir dir_;
};

TEST_F(ScorePipeline, EveryRowGetsItsModelAnswerWithItsTimes) {
  Pipeline p;
  Score s;
  s.url = url();
  s.timeout = std::chrono::seconds(5);
  s.batch_size = 8;
  s.ingest_time_as = "ingested_at";
  s.decision_time_as = "decided_at";
  tx(p).score(s).to(out(p));
  for (int parallelism : {1, 2}) {
    for (size_t batch : {size_t{3}, size_t{4096}}) {
      const auto rows = run(p, parallelism, batch);
      ASSERT_EQ(rows.size(), static_cast<size_t>(kRows)) << "-p " << parallelism << " batch " << batch;
      for (int i = 0; i < kRows; ++i) {
        const nlohmann::json& r = rows[static_cast<size_t>(i)];
        ASSERT_EQ(r["id"], i);
        // The default body is the row as a JSON object: the model echoes its id.
        const auto response = nlohmann::json::parse(r["response"].get<std::string>());
        EXPECT_EQ(response, testing_scoring::score_request({{"id", i}, {"amount", (i * 37) % 2500}}, "v1")) << r;
        EXPECT_LE(r["ingested_at"].get<std::string>(), r["decided_at"].get<std::string>()) << r;
      }
    }
  }
}

TEST_F(ScorePipeline, AFailingModelGivesTheFallbackAndTheResultReadsLikeSql) {
  server_.fail_status = 503;
  Pipeline p;
  Score s;
  s.url = url();
  s.body = R"('{"id":' || CAST(id AS TEXT) || ',"amount":' || CAST(amount * 2 AS TEXT) || '}')";
  s.fallback = R"({"score": -1})";
  s.max_attempts = 1;
  s.as = "Model Answer";
  tx(p).filter(col("id") < 10)
      .score(s)
      .select(col("id"), sql_expr(R"(CAST("Model Answer" ->> 'score' AS DOUBLE))").as("score"))
      .to(out(p));
  const auto rows = run(p, 1, 4);
  ASSERT_EQ(rows.size(), 10u);
  for (const auto& r : rows) EXPECT_EQ(r["score"], -1.0) << r;
}

TEST_F(ScorePipeline, ErrorsNameTheStep) {
  Pipeline p;
  Score s;
  s.url = url();
  s.body = "nope";
  const std::string message = tx(p).score(s).status().message();
  EXPECT_EQ(message.rfind("score('" + url() + "'): line 1 column ", 0), 0u) << message;
  EXPECT_NE(message.find("unknown column 'nope'"), std::string::npos) << message;
  Pipeline q;
  Score bad;
  bad.url = url();
  bad.as = "id";
  const std::string twice = tx(q).score(bad).select("id").status().message();
  EXPECT_NE(twice.find("ambiguous"), std::string::npos) << twice;
}

}  // namespace
}  // namespace sluice::api
