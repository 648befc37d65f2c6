// Stream::match_recognize: the C++ builder binds the same specification as SQL's
// match_recognize(...) table function (one binder), so the failed-logins rule of the e2e
// case gives the same alerts, at any parallelism and batch size; errors name the step.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "api/api_test_util.h"
#include "sluice/pipeline.h"

namespace sluice::api {
namespace {

using testing::TempDir;

class MatchRecognizePipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string cases = std::string(std::getenv("SLUICE_SOURCE_DIR")) + "/tests/e2e/cases/match_recognize_failed_logins";
    std::filesystem::copy_file(cases + "/events.jsonl", dir_.file("events.jsonl"));
    expected_ = testing::read_file(cases + "/expected/alerts.csv");
  }
  Stream events(Pipeline& p) {
    return p.source("events",
                    {field("user_id", TypeId::kInt64), field("ts", TypeId::kTimestamp), field("kind", TypeId::kString),
                     field("amount", TypeId::kFloat64), field("new_device", TypeId::kBool)},
                    {{"connector", "file"}, {"path", dir_.file("events.jsonl")}, {"format", "json"},
                     {"event_time", "ts"}, {"watermark_delay", "30 seconds"}});
  }
  static MatchRecognize failed_logins() {
    MatchRecognize m;
    m.partition_by = {"user_id"};
    m.pattern = "F{5} P";
    m.define = {{"F", "kind = 'login_failed'"}, {"P", "kind = 'purchase' AND amount > 1000 AND new_device"}};
    m.measures =
        "first(F.ts) AS first_failure, P.ts AS purchase_time, P.amount AS amount, count(F.*) AS failures, "
        "match_number() AS alert_number";
    m.within = std::chrono::minutes(10);
    m.after_match = "skip past last row";
    return m;
  }
  std::string run(const Pipeline& p, int parallelism, size_t batch_size) {
    std::filesystem::remove(dir_.file("alerts.csv"));
    RunOptions o;
    o.parallelism = parallelism;
    o.batch_size = batch_size;
    auto r = p.run(o);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return testing::read_file(dir_.file("alerts.csv"));
  }
  TempDir dir_;
  std::string expected_;
};

TEST_F(MatchRecognizePipeline, GivesTheAlertsOfTheSqlCase) {
  Pipeline p;
  events(p).match_recognize(failed_logins()).to(p.sink("alerts", {{"connector", "file"}, {"path", dir_.file("alerts.csv")},
                                                                  {"format", "csv"}}));
  ASSERT_TRUE(p.build().is_ok()) << p.build().status().message();
  for (int parallelism : {1, 3}) {
    for (size_t batch : {size_t{2}, size_t{4096}}) EXPECT_EQ(run(p, parallelism, batch), expected_);
  }
}

TEST_F(MatchRecognizePipeline, FiltersBeforeAndAfterFoldIntoTheQuery) {
  Pipeline p;
  events(p)
      .filter(col("user_id") != 5)
      .match_recognize(failed_logins())
      .filter(col("alert_number") == 2)
      .select("user_id", "amount")
      .to(p.sink("alerts", {{"connector", "file"}, {"path", dir_.file("alerts.csv")}, {"format", "csv"}}));
  EXPECT_EQ(run(p, 2, 7), "user_id,amount\n1,1001\n");
}

TEST_F(MatchRecognizePipeline, ErrorsNameTheStep) {
  auto error_of = [&](const MatchRecognize& m) {
    Pipeline p;
    return events(p).match_recognize(m).status().message();
  };
  MatchRecognize m = failed_logins();
  m.define.push_back({"X", "kind = 'x'"});
  std::string e = error_of(m);
  EXPECT_NE(e.find("match_recognize('F{5} P'): line"), std::string::npos) << e;
  EXPECT_NE(e.find("'x' is not a variable of the pattern 'F{5} P'"), std::string::npos) << e;
  m = failed_logins();
  m.pattern = "F{5";
  e = error_of(m);
  EXPECT_NE(e.find("pattern: bad quantifier"), std::string::npos) << e;
  m = failed_logins();
  m.partition_by = {"nope"};
  e = error_of(m);
  EXPECT_NE(e.find("partition_by: column 'nope' not found"), std::string::npos) << e;
  m = failed_logins();
  m.define[0].second = "kind";
  e = error_of(m);
  EXPECT_NE(e.find("DEFINE must be a boolean condition, not TEXT"), std::string::npos) << e;
}

}  // namespace
}  // namespace sluice::api
