// OVER aggregates stopped mid-stream and resumed from their checkpoint at another
// parallelism: the rows waiting for the watermark, the frames and their accumulators come
// back, so the exactly-once SQLite output equals an uninterrupted run's (nothing lost,
// nothing twice, no frame missing a row).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "common/time_util.h"
#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::run_sluice;
using testing::TempDir;
using testing::write_file;

std::string job(const std::string& db, bool slow) {
  return std::string("CREATE TABLE tx (id BIGINT, k BIGINT, v BIGINT, m TEXT, ts TIMESTAMP) WITH (connector = "
                     "'file', path = 'tx.jsonl', event_time = 'ts', watermark_delay = '2s'") +
         (slow ? ", rate = '4000'" : "") +
         ");\n"
         "CREATE TABLE out (id BIGINT, n BIGINT, s BIGINT, d BIGINT, mx BIGINT, r BIGINT) WITH (connector = 'sqlite', "
         "path = '" + db + "', table = 'out');\n"
         "INSERT INTO out SELECT id, COUNT(*) OVER w, SUM(v) OVER w, COUNT(DISTINCT m) OVER w, MAX(v) OVER w,\n"
         "  COUNT(*) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)\n"
         "FROM tx WINDOW w AS (PARTITION BY k ORDER BY ts RANGE BETWEEN INTERVAL '3' SECOND PRECEDING AND CURRENT "
         "ROW);\n";
}

std::string rows_of(const std::string& db) {
  return testing::sqlite_query(db, "SELECT id, n, s, d, mx, r FROM out ORDER BY id");
}

TEST(OverResumeTest, AStoppedJobResumedAtAnotherParallelismWritesWhatAnUninterruptedRunWrites) {
  TempDir dir;
  testing::Rng rng{11};
  const Micros start = 1700000000LL * kMicrosPerSecond;
  std::string tx;
  for (int i = 0; i < 8000; ++i) {
    const Micros t = start + i * kMicrosPerMilli - rng.uniform(0, 1500) * kMicrosPerMilli;
    tx += fmt::format("{{\"id\": {}, \"k\": {}, \"v\": {}, \"m\": \"m{}\", \"ts\": \"{}\"}}\n", i, rng.uniform(0, 30),
                      rng.uniform(0, 1000), rng.uniform(0, 20), format_timestamp(t));
  }
  write_file(dir.file("tx.jsonl"), tx);
  write_file(dir.file("ref.sql"), job("ref.db", false));
  auto ref = run_sluice("run -q ref.sql", dir.path());
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const std::string want = rows_of(dir.file("ref.db"));
  ASSERT_EQ(std::count(want.begin(), want.end(), '\n'), 8000);

  // 4,000 rows/s: stopped about half-way, then resumed at parallelism 2.
  write_file(dir.file("job.sql"), job("out.db", true));
  ASSERT_EQ(testing::run_checkpointed_then_interrupt("job.sql", dir.path(), 1000), 0)
      << testing::read_file(dir.file("log.txt"));
  const std::string partial = rows_of(dir.file("out.db"));
  EXPECT_NE(partial, want) << "the first run was not stopped before its end";
  write_file(dir.file("job.sql"), job("out.db", false));
  auto resumed = run_sluice("run -q job.sql --checkpoint-dir ck --parallelism 2", dir.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(rows_of(dir.file("out.db")), want);
}

}  // namespace
}  // namespace sluice
