// The blackhole sink (for benchmarks): accepts inserts and updating results, writes nothing,
// and the summary counts the rows that reached it.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "test_helpers.h"

namespace sluice {
namespace {

using testing::run_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

TEST(BlackholeSinkTest, AcceptsInsertsAndUpdatesAndCountsThem) {
  TempDir dir;
  std::string input;
  for (int i = 0; i < 1000; ++i) input += "{\"k\": " + std::to_string(i % 10) + ", \"v\": " + std::to_string(i) + "}\n";
  write_file(dir.file("in.jsonl"), input);
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (k BIGINT, v BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
    CREATE TABLE rows_out () WITH (connector = 'blackhole');
    CREATE TABLE counts () WITH (connector = 'blackhole');
    INSERT INTO rows_out SELECT k, v FROM src WHERE v % 2 = 0;
    INSERT INTO counts SELECT k, COUNT(*) AS n FROM src GROUP BY k;)",
                                           dir.path()));
  auto r = run_sluice("run job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rows_out.sink"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sink: in 500, out 500"), std::string::npos) << r.output;
  // Nothing written next to the job.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 2u);
  auto explain = run_sluice("explain job.sql", dir.path());
  ASSERT_EQ(explain.exit_code, 0) << explain.output;
  EXPECT_NE(explain.output.find("blackhole"), std::string::npos) << explain.output;
}

TEST(BlackholeSinkTest, RefusesOptions) {
  TempDir dir;
  write_file(dir.file("job.sql"), R"(CREATE TABLE src (k BIGINT) WITH (connector = 'file', path = 'in.jsonl');
CREATE TABLE out () WITH (connector = 'blackhole', path = 'x');
INSERT INTO out SELECT k FROM src;)");
  write_file(dir.file("in.jsonl"), "");
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown option 'path'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sluice
