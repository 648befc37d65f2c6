// The Redis sink as a user meets it (issue 12), against a redis-server the test starts
// (connectors/redis/redis_test_server.h): an updating result (GROUP BY ... HAVING: keys
// come, change and go) ends in Redis exactly as in the SQLite sink of the same query, as
// hashes and as JSON strings, with and without checkpoints.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "connectors/redis/redis_test_server.h"
#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::RedisTestServer;
using testing::TempDir;

std::string job(const std::string& url) {
  return R"(
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP, amount DOUBLE)
  WITH (connector = 'generator', seed = '11', events = '20000', users = '60', pages = '12');
CREATE TABLE features (user_id BIGINT, n BIGINT, pages BIGINT)
  WITH (connector = 'redis', url = ')" + url + R"(', primary_key = 'user_id', key_prefix = 'user:');
CREATE TABLE features_json (user_id BIGINT, n BIGINT, pages BIGINT)
  WITH (connector = 'redis', url = ')" + url + R"(', primary_key = 'user_id', key_prefix = 'json:',
        data_type = 'string');
CREATE TABLE lite (user_id BIGINT, n BIGINT, pages BIGINT)
  WITH (connector = 'sqlite', path = 'out.db', primary_key = 'user_id');
INSERT INTO features SELECT user_id, COUNT(*), COUNT(DISTINCT page) FROM clicks GROUP BY user_id
  HAVING COUNT(*) % 4 <> 0;
INSERT INTO features_json SELECT user_id, COUNT(*), COUNT(DISTINCT page) FROM clicks GROUP BY user_id
  HAVING COUNT(*) % 4 <> 0;
INSERT INTO lite SELECT user_id, COUNT(*), COUNT(DISTINCT page) FROM clicks GROUP BY user_id
  HAVING COUNT(*) % 4 <> 0;
)";
}

class RedisJobTest : public ::testing::Test {
 protected:
  void SetUp() override { RedisTestServer::shared().command({"FLUSHALL"}); }
  // "user_id|n|pages" per key, by user id: from the hashes and from the JSON strings.
  std::vector<std::string> from_hashes() {
    auto& r = RedisTestServer::shared();
    std::vector<std::pair<int64_t, std::string>> rows;
    for (const auto& key : r.command({"KEYS", "user:*"})) {
      const int64_t id = std::stoll(key.substr(5));
      rows.emplace_back(id, std::to_string(id) + "|" + r.command({"HGET", key, "n"}).at(0) + "|" +
                                r.command({"HGET", key, "pages"}).at(0));
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> out;
    for (auto& x : rows) out.push_back(x.second);
    return out;
  }
  std::vector<std::string> from_json() {
    auto& r = RedisTestServer::shared();
    std::vector<std::pair<int64_t, std::string>> rows;
    for (const auto& key : r.command({"KEYS", "json:*"})) {
      const int64_t id = std::stoll(key.substr(5));
      rows.emplace_back(id, r.command({"GET", key}).at(0));
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> out;
    for (auto& x : rows) out.push_back(x.second);
    return out;
  }
  void expect_redis_equals_sqlite() {
    const auto lite = testing::sqlite_query_rows(dir_.file("out.db"),
                                                 "SELECT user_id || '|' || n || '|' || pages FROM lite ORDER BY user_id");
    const auto lite_json = testing::sqlite_query_rows(
        dir_.file("out.db"),
        "SELECT '{\"user_id\":' || user_id || ',\"n\":' || n || ',\"pages\":' || pages || '}' FROM lite ORDER BY user_id");
    EXPECT_GT(lite.size(), 20u);
    EXPECT_LT(lite.size(), 60u) << "HAVING removed some users";
    EXPECT_EQ(from_hashes(), lite);
    EXPECT_EQ(from_json(), lite_json);
  }
  TempDir dir_;
};

TEST_F(RedisJobTest, AnUpdatingResultEqualsTheSqliteSink) {
  testing::write_file(dir_.file("job.sql"), job(RedisTestServer::shared().url()));
  auto r = testing::run_sluice("run -q job.sql", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_redis_equals_sqlite();
}

TEST_F(RedisJobTest, WithCheckpointsTheCommitsAreRecorded) {
  testing::write_file(dir_.file("job.sql"), job(RedisTestServer::shared().url()));
  auto r = testing::run_sluice("run -q job.sql --checkpoint-dir ck --checkpoint-interval 20ms -p 2", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_redis_equals_sqlite();
  auto records = RedisTestServer::shared().command({"HLEN", "sluice:commits"});
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], "2") << "one record per Redis sink";
}

#ifdef SLUICE_HAS_POSTGRES
// examples/postgres/run.sh works as its README says: it starts its own servers, loads both,
// and prints what landed (200,000 clicks, 1,000 users).
TEST(ExamplePostgresTest, RunShLoadsPostgresAndRedisAndShowsThem) {
  auto r = testing::run_command(std::string(SLUICE_SOURCE_DIR) + "/examples/postgres/run.sh " +
                                testing::sluice_binary() + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("views: 200000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("users in Redis: 1000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("spent"), std::string::npos) << r.output;
}
#endif

}  // namespace
}  // namespace sluice
