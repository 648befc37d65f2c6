// A temporal join stopped mid-stream and resumed from its checkpoint, at another
// parallelism: the versions and the rows waiting for the watermark come back, so the
// exactly-once SQLite output equals an uninterrupted run's (nothing lost, nothing twice).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

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
  return std::string("CREATE TABLE rates (k BIGINT, rate BIGINT, ts TIMESTAMP, PRIMARY KEY (k)) WITH (connector = "
                     "'file', path = 'rates.jsonl', event_time = 'ts', watermark_delay = '2s');\n"
                     "CREATE TABLE orders (id BIGINT, k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = "
                     "'orders.jsonl', event_time = 'ts', watermark_delay = '2s'") +
         (slow ? ", rate = '4000'" : "") +
         ");\n"
         "CREATE TABLE out (id BIGINT, rate BIGINT) WITH (connector = 'sqlite', path = '" + db +
         "', table = 'out');\n"
         "INSERT INTO out SELECT o.id, r.rate FROM orders o LEFT JOIN versioned(rates, o.ts) AS r ON o.k = r.k;\n";
}

std::string rows_of(const std::string& db) {
  return testing::sqlite_query(db, "SELECT id, coalesce(rate, -1) FROM out ORDER BY id");
}

TEST(TemporalJoinResumeTest, AStoppedJobResumedAtAnotherParallelismWritesWhatAnUninterruptedRunWrites) {
  TempDir dir;
  testing::Rng rng{7};
  const Micros start = 1700000000LL * kMicrosPerSecond;
  std::string rates, orders;
  for (int i = 0; i < 2000; ++i) {
    const Micros t = start + i * 4 * kMicrosPerMilli - rng.uniform(0, 1000) * kMicrosPerMilli;
    rates += fmt::format("{{\"k\": {}, \"rate\": {}, \"ts\": \"{}\"}}\n", rng.uniform(0, 40), i, format_timestamp(t));
  }
  for (int i = 0; i < 8000; ++i) {
    const Micros t = start + i * kMicrosPerMilli - rng.uniform(0, 1000) * kMicrosPerMilli;
    orders += fmt::format("{{\"id\": {}, \"k\": {}, \"ts\": \"{}\"}}\n", i, rng.uniform(0, 40), format_timestamp(t));
  }
  write_file(dir.file("rates.jsonl"), rates);
  write_file(dir.file("orders.jsonl"), orders);
  write_file(dir.file("ref.sql"), job("ref.db", false));
  auto ref = run_sluice("run -q ref.sql", dir.path());
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const std::string want = rows_of(dir.file("ref.db"));
  ASSERT_EQ(std::count(want.begin(), want.end(), '\n'), 8000);

  // Orders at 4,000/s: stopped about half-way, then resumed at parallelism 2.
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
