// The Redis Streams source as a user meets it (issue 12 point 3), against a redis-server
// the test starts: a windowed job over a stream ends equal to a reference computed here;
// malformed entries go to the dead-letter queue with their entry ID; the entry ID and its
// timestamp are columns; and a job killed with SIGKILL at random moments, restarted from
// its checkpoints each time, ends with exactly the uninterrupted result and every entry
// acknowledged.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "connectors/redis/redis_test_server.h"
#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::RedisTestServer;
using testing::TempDir;

constexpr int64_t kBaseMs = 1700000000000;

// Appends `n` entries {k, v, ts} to `stream`, pipelined; event times up to 2 s out of
// order. Returns the expected "k|window_start_ms|count|sum" rows of 10-second windows.
std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>> add_events(const std::string& stream, int n,
                                                                              int bad_every = 0) {
  redisContext* c = redisConnect("127.0.0.1", RedisTestServer::shared().port());
  EXPECT_TRUE(c && !c->err);
  testing::Rng rng{7};
  std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>> expected;
  int sent = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t k = rng.uniform(0, 99), v = rng.uniform(-1000, 1000);
    const int64_t ts = kBaseMs + i * 2 - rng.uniform(0, 2000);
    const std::string ks = bad_every && i % bad_every == 0 ? "not-a-number" : std::to_string(k);
    const std::string vs = std::to_string(v), tss = std::to_string(ts);
    const char* argv[] = {"XADD", stream.c_str(), "*", "k", ks.c_str(), "v", vs.c_str(), "ts", tss.c_str()};
    const size_t lens[] = {4, stream.size(), 1, 1, ks.size(), 1, vs.size(), 2, tss.size()};
    redisAppendCommandArgv(c, 9, argv, lens);
    ++sent;
    if (!(bad_every && i % bad_every == 0)) {
      auto& e = expected[{k, ts - ((ts % 10000) + 10000) % 10000}];
      e.first += 1;
      e.second += v;
    }
    if (sent == 1000 || i + 1 == n) {
      for (; sent > 0; --sent) {
        void* reply = nullptr;
        EXPECT_EQ(redisGetReply(c, &reply), REDIS_OK);
        freeReplyObject(reply);
      }
    }
  }
  redisFree(c);
  return expected;
}

std::vector<std::string> expected_rows(
    const std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>>& expected) {
  std::vector<std::string> out;
  for (const auto& [key, value] : expected) {
    out.push_back(fmt::format("{}|{}|{}|{}", key.first, key.second, value.first, value.second));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string job(const std::string& group, const std::string& db, const std::string& extra = "") {
  return fmt::format(R"(
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'redis-stream', url = '{}', stream = 'events', group_id = '{}',
        bounded_mode = 'latest', event_time = 'ts', watermark_delay = '3s'{});
CREATE TABLE agg () WITH (connector = 'sqlite', path = '{}', table = 'agg');
INSERT INTO agg
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(src, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
)",
                     RedisTestServer::shared().url(), group, extra, db);
}

std::vector<std::string> agg_rows(const std::string& db) {
  auto rows = testing::sqlite_query_rows(
      db, "SELECT k || '|' || (CAST(strftime('%s', window_start) AS INTEGER) * 1000) || '|' || n || '|' || total FROM agg");
  std::sort(rows.begin(), rows.end());
  return rows;
}

class RedisStreamJobTest : public ::testing::Test {
 protected:
  void SetUp() override { RedisTestServer::shared().command({"FLUSHALL"}); }
  int64_t pending(const std::string& group) {
    return std::stoll(RedisTestServer::shared().command({"XPENDING", "events", group}).at(0));
  }
  TempDir dir_;
};

TEST_F(RedisStreamJobTest, AWindowedJobOverAStreamEqualsTheReference) {
  const auto expected = expected_rows(add_events("events", 20000));
  testing::write_file(dir_.file("job.sql"), job("g1", "out.db"));
  auto r = testing::run_sluice("run -q job.sql --checkpoint-dir ck --checkpoint-interval 50ms -p 2", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(agg_rows(dir_.file("out.db")), expected);
  EXPECT_EQ(pending("g1"), 0) << "the final checkpoint acknowledged every entry";
}

TEST_F(RedisStreamJobTest, MalformedEntriesGoToTheDeadLetterQueueWithTheirId) {
  const auto expected = expected_rows(add_events("events", 2000, 100));
  testing::write_file(dir_.file("job.sql"), job("g1", "out.db", ", dlq = 'bad.jsonl'"));
  auto r = testing::run_sluice("run -q job.sql", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(agg_rows(dir_.file("out.db")), expected);
  const std::string dlq = testing::read_file(dir_.file("bad.jsonl"));
  EXPECT_EQ(std::count(dlq.begin(), dlq.end(), '\n'), 20) << dlq;
  EXPECT_NE(dlq.find("not-a-number"), std::string::npos) << dlq;
  const auto first_id = RedisTestServer::shared().command({"XRANGE", "events", "-", "+", "COUNT", "1"});
  ASSERT_FALSE(first_id.empty());
  EXPECT_NE(dlq.find("\"" + first_id[0] + "\""), std::string::npos) << "the entry ID is the dead letter's key\n" << dlq;
}

TEST_F(RedisStreamJobTest, TheEntryIdAndItsTimeAreColumns) {
  RedisTestServer::shared().command({"XADD", "events", "1700000000123-0", "page", "/a"});
  RedisTestServer::shared().command({"XADD", "events", "1700000000456-7", "page", "/b"});
  testing::write_file(dir_.file("job.sql"), fmt::format(R"(
CREATE TABLE src (page TEXT, _key TEXT, _topic TEXT, _timestamp TIMESTAMP)
  WITH (connector = 'redis-stream', url = '{}', stream = 'events', bounded_mode = 'latest',
        event_time = '_timestamp');
CREATE TABLE out () WITH (connector = 'file', path = 'out.jsonl');
INSERT INTO out SELECT page, _key, _topic, _timestamp FROM src;
)",
                                                        RedisTestServer::shared().url()));
  auto r = testing::run_sluice("run -q job.sql", dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::read_file(dir_.file("out.jsonl")),
            "{\"page\":\"/a\",\"_key\":\"1700000000123-0\",\"_topic\":\"events\",\"_timestamp\":\"2023-11-14T22:13:20.123Z\"}\n"
            "{\"page\":\"/b\",\"_key\":\"1700000000456-7\",\"_topic\":\"events\",\"_timestamp\":\"2023-11-14T22:13:20.456Z\"}\n");
}

TEST_F(RedisStreamJobTest, KilledAtRandomMomentsTheResultIsExactAndEveryEntryAcknowledged) {
  const auto expected = expected_rows(add_events("events", 200000));
  testing::write_file(dir_.file("job.sql"), job("crash", "out.db"));
  testing::Rng rng{99};
  int kills = 0, runs = 0;
  for (; runs < 60; ++runs) {
    const pid_t pid = testing::spawn_sluice({"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval",
                                             "30ms", "-p", runs % 2 ? "2" : "1"},
                                            dir_.path(), dir_.file(fmt::format("run{}.log", runs)));
    ASSERT_GT(pid, 0);
    if (kills < 15) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(20, 250)));
      if (::kill(pid, SIGKILL) == 0) {
        const int code = testing::wait_exit(pid);
        if (code != 0) {
          ++kills;
          continue;
        }
        break;  // it had finished
      }
    }
    const int code = testing::wait_exit(pid);
    ASSERT_EQ(code, 0) << testing::read_file(dir_.file(fmt::format("run{}.log", runs)));
    break;
  }
  EXPECT_GE(kills, 3) << "a quick machine finishes the job between kills: fewer kills, still exact";
  const auto got = agg_rows(dir_.file("out.db"));
  int64_t rows_in = 0;
  for (const auto& row : got) rows_in += std::stoll(row.substr(row.find('|', row.find('|') + 1) + 1));
  EXPECT_EQ(rows_in, 200000) << "entries counted in the windows; late rows: "
                             << testing::read_file(dir_.file("src.late.jsonl")).size() << " bytes; kills " << kills;
  EXPECT_EQ(got, expected);
  EXPECT_EQ(pending("crash"), 0);
}

}  // namespace
}  // namespace sluice
