// Stream::over: the C++ builder makes the OVER aggregates' plan with the SQL binder's shape
// (plan/over_shape.h), so the velocity features of the SQL case over_velocity_features come
// out the same, at any parallelism and batch size; errors name the step.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <vector>

#include "api/api_test_util.h"
#include "sluice/pipeline.h"

namespace sluice::api {
namespace {

using testing::TempDir;

class OverPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string cases = std::string(std::getenv("SLUICE_SOURCE_DIR")) + "/tests/e2e/cases/over_velocity_features";
    std::filesystem::copy_file(cases + "/tx.jsonl", dir_.file("tx.jsonl"));
    expected_ = testing::read_file(cases + "/expected/features.jsonl");
  }
  Stream tx(Pipeline& p, bool event_time = true) {
    TableOptions o = {{"connector", "file"}, {"path", dir_.file("tx.jsonl")}, {"late_output", dir_.file("late.jsonl")}};
    if (event_time) {
      o["event_time"] = "ts";
      o["watermark_delay"] = "10 seconds";
    }
    return p.source("tx", {field("user_id", TypeId::kInt64), field("amount", TypeId::kInt64), field("ts", TypeId::kTimestamp)},
                    o);
  }
  std::string run(const Pipeline& p, int parallelism, size_t batch_size) {
    std::filesystem::remove(dir_.file("features.jsonl"));
    std::filesystem::remove(dir_.file("late.jsonl"));
    RunOptions o;
    o.parallelism = parallelism;
    o.batch_size = batch_size;
    auto r = p.run(o);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return testing::read_file(dir_.file("features.jsonl"));
  }
  Table features(Pipeline& p) { return p.sink("features", {{"connector", "file"}, {"path", dir_.file("features.jsonl")}}); }
  TempDir dir_;
  std::string expected_;
};

TEST_F(OverPipeline, GivesTheVelocityFeaturesOfTheSqlCase) {
  Pipeline p;
  tx(p).over(OverWindow::range(std::chrono::minutes(5)).partition_by("user_id"), count().as("n_5m"),
             sum("amount").as("sum_5m"), max("amount").as("max_5m"))
      .over(OverWindow::rows(1).partition_by("user_id"), count().as("n_last2"))
      .over(OverWindow::rows_unbounded().partition_by(col("user_id")), avg("amount").as("avg_all"))
      .to(features(p));
  ASSERT_TRUE(p.build().is_ok()) << p.build().status().message();
  for (int parallelism : {1, 3}) {
    for (size_t batch : {size_t{1}, size_t{3}, size_t{4096}}) {
      EXPECT_EQ(run(p, parallelism, batch), expected_) << "-p " << parallelism << " batch " << batch;
    }
  }
}

TEST_F(OverPipeline, FiltersBeforeApplyFirstAndTheResultCanBeFilteredAndSelected) {
  Pipeline p;
  tx(p).filter(col("amount") >= 50)
      .over(OverWindow::range_unbounded().partition_by("user_id"), count().as("n"))
      .filter(col("n") >= 2)
      .select("user_id", "n")
      .to(features(p));
  // Rows of amount >= 50: user 1 at 00:00 and 05:30, user 2 at 00:05 and 00:58 (the row of
  // user 2 at 00:30 is late and dropped); the second of each user has n = 2.
  std::istringstream lines(run(p, 2, 7));
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::string>{R"({"user_id":1,"n":2})", R"({"user_id":2,"n":2})"}));
}

TEST_F(OverPipeline, ErrorsNameTheStep) {
  auto error_of = [&](auto build) {
    Pipeline p;
    return build(p).status().message();
  };
  EXPECT_EQ(error_of([&](Pipeline& p) { return tx(p, false).over(OverWindow::rows(2), count()); }),
            "over(ROWS BETWEEN 2 PRECEDING AND CURRENT ROW, count(*)): OVER needs an event-time column to order by, and "
            "this stream has none (declare event_time on the source)");
  EXPECT_EQ(error_of([&](Pipeline& p) { return tx(p).over(OverWindow::rows(-1), count()); }),
            "over(ROWS BETWEEN -1 PRECEDING AND CURRENT ROW, count(*)): the ROWS of an OVER window must be between 0 "
            "and 1000000, got -1");
  EXPECT_EQ(error_of([&](Pipeline& p) { return tx(p).over(OverWindow::range_unbounded(), count().as("amount")); }),
            "over(RANGE UNBOUNDED PRECEDING, count(*) AS amount): count(*) AS amount: column 'amount' exists already; name the aggregate "
            "with as()");
  EXPECT_EQ(error_of([&](Pipeline& p) {
              return tx(p).over(OverWindow::range_unbounded().partition_by("userid"), count().as("n"));
            }),
            "over(PARTITION BY userid RANGE UNBOUNDED PRECEDING, count(*) AS n): PARTITION BY userid: unknown column "
            "'userid' (columns: user_id, amount, ts)");
  EXPECT_EQ(error_of([&](Pipeline& p) { return tx(p).over(OverWindow::rows(1), sum("ts").as("s")); }),
            "over(ROWS BETWEEN 1 PRECEDING AND CURRENT ROW, sum(ts) AS s): sum(ts) AS s: sum needs a numeric argument, not "
            "TIMESTAMP");
}

}  // namespace
}  // namespace sluice::api
