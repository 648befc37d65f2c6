// The C++ API runs jobs through the engine layer: SET checkpoint settings (and RunOptions'
// checkpoint fields) take effect as in `sluice run`.
#include <filesystem>

#include <gtest/gtest.h>

#include "api/api_test_util.h"
#include "sluice/pipeline.h"

namespace sluice::api {
namespace {

using testing::TempDir;

std::vector<Field> columns() { return {field("n", TypeId::kInt64)}; }

void write_numbers(const std::string& path, int from, int to) {
  std::ofstream out(path, std::ios::app);
  for (int i = from; i <= to; ++i) out << "{\"n\": " << i << "}\n";
}

Pipeline numbers_job(const TempDir& dir) {
  Pipeline p;
  Stream in = p.source("src", columns(), {{"connector", "file"}, {"path", dir.file("in.jsonl")}});
  in.to(p.sink("out", {{"connector", "sqlite"}, {"path", dir.file("out.db")}, {"table", "out"}}));
  return p;
}

TEST(ApiCheckpoints, SetCheckpointDirTakesCheckpointsAndResumes) {
  TempDir dir;
  write_numbers(dir.file("in.jsonl"), 1, 50);
  Pipeline p = numbers_job(dir);
  p.set("checkpoint_dir", dir.file("ck"));
  auto first = p.run();
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  EXPECT_EQ(first.value().records_in, 50u);
  EXPECT_GE(first.value().checkpoints_completed, 1u);
  EXPECT_EQ(first.value().restored_checkpoint, 0u);
  EXPECT_NE(first.value().explain.find("checkpoints: final only in " + dir.file("ck")), std::string::npos)
      << first.value().explain;
  EXPECT_TRUE(std::filesystem::exists(dir.file("ck/job_id")));

  // The second run resumes from the final checkpoint: only the appended lines are read.
  write_numbers(dir.file("in.jsonl"), 51, 80);
  auto second = p.run();
  ASSERT_TRUE(second.is_ok()) << second.status().message();
  EXPECT_GT(second.value().restored_checkpoint, 0u);
  EXPECT_EQ(second.value().records_in, 30u);
}

TEST(ApiCheckpoints, RunSqlHonoursSetCheckpointDir) {
  TempDir dir;
  write_numbers(dir.file("in.jsonl"), 1, 10);
  std::string sql = "SET checkpoint_dir = '" + dir.file("ck") + "';\nSET checkpoint_interval = '100ms';\n" +
                    "CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '" + dir.file("in.jsonl") + "');\n" +
                    "CREATE TABLE out () WITH (connector = 'file', path = '" + dir.file("out.jsonl") + "');\n" +
                    "INSERT INTO out SELECT n FROM src;";
  auto r = run_sql(sql);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_GE(r.value().checkpoints_completed, 1u);
  EXPECT_NE(r.value().explain.find("checkpoints: every 100ms"), std::string::npos) << r.value().explain;
}

TEST(ApiCheckpoints, RunOptionsOverrideAndSettingsAreValidated) {
  TempDir dir;
  write_numbers(dir.file("in.jsonl"), 1, 5);
  Pipeline p = numbers_job(dir);
  RunOptions o;
  o.checkpoint_dir = dir.file("ck2");
  auto r = p.run(o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_GE(r.value().checkpoints_completed, 1u);
  EXPECT_TRUE(std::filesystem::exists(dir.file("ck2/job_id")));

  Pipeline bad = numbers_job(dir);
  bad.set("checkpoint_interval", "1us");
  auto refused = bad.run();
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("checkpoint_interval"), std::string::npos) << refused.status().message();
  Pipeline unknown = numbers_job(dir);
  unknown.set("no_such_setting", "1");
  EXPECT_FALSE(unknown.run().is_ok());
}

}  // namespace
}  // namespace sluice::api
