// SET state_ttl on a running job (issue 14: regular joins with a state TTL): adding the TTL
// when resuming from a checkpoint keeps the join's state (the operator id does not depend
// on the TTL), so the result equals an uninterrupted run's. The TTL's semantics are tested
// with a manual clock in src/operators/join_ttl_test.cc.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::run_sluice;
using testing::TempDir;
using testing::write_file;

std::string rows_of(const std::string& db_path) {
  return testing::sqlite_query(db_path, "SELECT id, name, total FROM out ORDER BY id");
}

std::string job(const std::string& dir, const std::string& db, const std::string& settings, bool slow) {
  return settings + "CREATE TABLE users (id BIGINT, name TEXT) WITH (connector = 'file', path = '" + dir +
         "/users.jsonl');\n"
         "CREATE TABLE orders (uid BIGINT, amount BIGINT) WITH (connector = 'file', path = '" +
         dir + "/orders.jsonl'" + (slow ? ", rate = '4000'" : "") +
         ");\n"
         "CREATE TABLE out (id BIGINT, name TEXT, total BIGINT) WITH (connector = 'sqlite', path = '" +
         dir + "/" + db +
         "', table = 'out', primary_key = 'id,name');\n"
         "INSERT INTO out SELECT u.id, u.name, SUM(o.amount) AS total FROM users AS u JOIN orders AS o "
         "ON u.id = o.uid GROUP BY u.id, u.name;\n";
}

TEST(StateTtlTest, AddingATtlOnResumeKeepsTheJoinState) {
  TempDir dir;
  std::string users, orders;
  for (int u = 0; u < 100; ++u) users += "{\"id\": " + std::to_string(u) + ", \"name\": \"u" + std::to_string(u) + "\"}\n";
  for (int i = 0; i < 8000; ++i) {
    orders += "{\"uid\": " + std::to_string((i * 37) % 100) + ", \"amount\": " + std::to_string(i % 50) + "}\n";
  }
  write_file(dir.file("users.jsonl"), users);
  write_file(dir.file("orders.jsonl"), orders);
  write_file(dir.file("ref.sql"), job(dir.path(), "ref.db", "", false));
  auto ref = run_sluice("run -q ref.sql", dir.path());
  ASSERT_EQ(ref.exit_code, 0) << ref.output;
  const std::string want = rows_of(dir.file("ref.db"));
  ASSERT_EQ(std::count(want.begin(), want.end(), '\n'), 100) << want;

  // Interrupted half-way (orders at 4,000/s), then resumed with a TTL of an hour.
  write_file(dir.file("job.sql"), job(dir.path(), "out.db", "", true));
  ASSERT_EQ(testing::run_checkpointed_then_interrupt("job.sql", dir.path(), 1000), 0)
      << testing::read_file(dir.file("log.txt"));
  const std::string partial = rows_of(dir.file("out.db"));
  EXPECT_NE(partial, want) << "the first run was not interrupted before its end";
  write_file(dir.file("job.sql"), job(dir.path(), "out.db", "SET state_ttl = '1 hour';\n", false));
  auto resumed = run_sluice("run -q job.sql --checkpoint-dir ck", dir.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(rows_of(dir.file("out.db")), want);
}

}  // namespace
}  // namespace sluice
