// The Redis sink against a real redis-server (redis_test_server.h): hashes and strings,
// keys from several columns with a prefix, NULL fields, deletes and each key's last change,
// TTL, option errors, a password from the environment, and a server restart between
// flushes.
#include "connectors/redis/redis_sink.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdlib>

#include "connectors/redis/redis_test_server.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::RedisTestServer;
using testing::sink_spec;

SchemaPtr schema() {
  return make_schema({{"user_id", TypeId::kInt64},
                      {"region", TypeId::kString},
                      {"clicks", TypeId::kInt64},
                      {"score", TypeId::kFloat64},
                      {"last_seen", TypeId::kTimestamp}});
}

struct Row {
  int64_t user;
  const char* region;  // nullptr = NULL
  int64_t clicks;
  RowKind kind = RowKind::kInsert;
};

RecordBatch batch(const std::vector<Row>& rows) {
  RecordBatch b(schema());
  for (const Row& r : rows) {
    b.mutable_column(0).append_int(r.user);
    if (r.region) {
      b.mutable_column(1).append_string(r.region);
    } else {
      b.mutable_column(1).append_null();
    }
    b.mutable_column(2).append_int(r.clicks);
    if (r.clicks % 2) {
      b.mutable_column(3).append_double(static_cast<double>(r.clicks) / 2);
    } else {
      b.mutable_column(3).append_null();
    }
    b.mutable_column(4).append_int(1767225600000000 + r.clicks * 1000000);
    b.row_kinds.push_back(r.kind);
  }
  b.sync_num_rows();
  return b;
}

class RedisSinkTest : public ::testing::Test {
 protected:
  static RedisTestServer& server() { return RedisTestServer::shared(); }
  void SetUp() override { server().command({"FLUSHALL"}); }
  Result<std::unique_ptr<SinkFactory>> factory(std::map<std::string, std::string> options) {
    options.emplace("url", server().url());
    return make_sink_factory(sink_spec("redis", std::move(options), schema(), "features"));
  }
  void write(std::map<std::string, std::string> options, const std::vector<RecordBatch>& batches) {
    auto f = factory(std::move(options));
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    auto w = std::move(f.value()->create_writer()).value();
    ASSERT_TRUE(w->open().is_ok());
    for (const auto& b : batches) {
      ASSERT_TRUE(w->write(b).is_ok());
      Status s = w->flush();
      ASSERT_TRUE(s.is_ok()) << s.message();
    }
    ASSERT_TRUE(w->close().is_ok());
  }
  std::vector<std::string> cmd(const std::vector<std::string>& args) { return server().command(args); }
  std::vector<std::string> sorted_keys(const std::string& pattern) {
    auto keys = cmd({"KEYS", pattern});
    std::sort(keys.begin(), keys.end());
    return keys;
  }
};

TEST_F(RedisSinkTest, HashesHoldEachKeysLastChangeWithoutNullFields) {
  write({{"primary_key", "user_id,region"}},
        {batch({{1, "eu", 3}, {2, nullptr, 4}, {3, "us", 5}}),
         batch({{1, "eu", 3, RowKind::kUpdateBefore}, {1, "eu", 7, RowKind::kUpdateAfter},
                {3, "us", 5, RowKind::kDelete}, {4, "eu", 1}, {4, "eu", 1, RowKind::kDelete}})});
  EXPECT_EQ(sorted_keys("features:*"), (std::vector<std::string>{"features:1:eu", "features:2:\\N"}));
  auto h1 = cmd({"HGETALL", "features:1:eu"});
  EXPECT_EQ(h1, (std::vector<std::string>{"clicks", "7", "score", "3.5", "last_seen", "2026-01-01T00:00:07Z"}));
  // A NULL column is an absent field; the key columns are in the key, not in the hash.
  EXPECT_EQ(cmd({"HGETALL", "features:2:\\N"}), (std::vector<std::string>{"clicks", "4", "last_seen",
                                                                           "2026-01-01T00:00:04Z"}));
}

// Issue 9 point 13: a NULL key part is one key of its own, not the empty string's (nor a
// text value that reads `\N`); its updates replace it and a delete removes it alone.
TEST_F(RedisSinkTest, ANullKeyPartIsDistinctFromTheEmptyString) {
  const std::map<std::string, std::string> keyed{{"primary_key", "user_id,region"}};
  write(keyed, {batch({{1, nullptr, 3}, {1, "", 4}, {1, "\\N", 5}, {1, "\\x", 6}}),
                batch({{1, nullptr, 3, RowKind::kUpdateBefore}, {1, nullptr, 7, RowKind::kUpdateAfter}})});
  EXPECT_EQ(sorted_keys("features:*"),
            (std::vector<std::string>{"features:1:", "features:1:\\N", "features:1:\\\\N", "features:1:\\\\x"}));
  EXPECT_EQ(cmd({"HGET", "features:1:\\N", "clicks"}), (std::vector<std::string>{"7"}));
  EXPECT_EQ(cmd({"HGET", "features:1:", "clicks"}), (std::vector<std::string>{"4"}));
  EXPECT_EQ(cmd({"HGET", "features:1:\\\\N", "clicks"}), (std::vector<std::string>{"5"}));
  write(keyed, {batch({{1, nullptr, 7, RowKind::kDelete}})});
  EXPECT_EQ(sorted_keys("features:*"),
            (std::vector<std::string>{"features:1:", "features:1:\\\\N", "features:1:\\\\x"}));
}

TEST_F(RedisSinkTest, AnUpdateReplacesTheWholeHash) {
  write({{"primary_key", "user_id"}}, {batch({{1, "eu", 3}})});
  write({{"primary_key", "user_id"}}, {batch({{1, nullptr, 4}})});
  EXPECT_EQ(cmd({"HGETALL", "features:1"}), (std::vector<std::string>{"clicks", "4", "last_seen",
                                                                       "2026-01-01T00:00:04Z"}));
}

TEST_F(RedisSinkTest, StringsHoldTheRowAsJsonWithAPrefixAndTtl) {
  write({{"primary_key", "user_id"}, {"data_type", "string"}, {"key_prefix", "f:u:"}, {"ttl", "1 hour"}},
        {batch({{9, "eu", 3}})});
  EXPECT_EQ(cmd({"GET", "f:u:9"}), (std::vector<std::string>{R"({"user_id":9,"region":"eu","clicks":3,"score":1.5,)"
                                                            R"("last_seen":"2026-01-01T00:00:03Z"})"}));
  auto ttl = cmd({"PTTL", "f:u:9"});
  ASSERT_EQ(ttl.size(), 1u);
  EXPECT_GT(std::stoll(ttl[0]), 3500000);
  EXPECT_LE(std::stoll(ttl[0]), 3600000);
}

TEST_F(RedisSinkTest, HashesGetTheirTtlToo) {
  write({{"primary_key", "user_id"}, {"ttl", "10 minutes"}}, {batch({{1, "eu", 3}})});
  auto ttl = cmd({"PTTL", "features:1"});
  ASSERT_EQ(ttl.size(), 1u);
  EXPECT_GT(std::stoll(ttl[0]), 500000);
}

TEST_F(RedisSinkTest, OptionErrorsNameTheOption) {
  for (const auto& [options, want] : std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{}, "needs primary_key"},
           {{{"primary_key", ""}}, "at least one column"},
           {{{"primary_key", "nope"}}, "nope"},
           {{{"primary_key", "user_id"}, {"data_type", "list"}}, "data_type"},
           {{{"primary_key", "user_id"}, {"ttl", "soon"}}, "ttl"},
       }) {
    auto f = factory(options);
    ASSERT_FALSE(f.is_ok()) << want;
    EXPECT_NE(f.status().message().find(want), std::string::npos) << f.status().message();
  }
  auto bad_url = make_sink_factory(sink_spec("redis", {{"url", "http://x"}, {"primary_key", "user_id"}}, schema()));
  ASSERT_FALSE(bad_url.is_ok());
  EXPECT_NE(bad_url.status().message().find("redis://"), std::string::npos);
  auto down = make_sink_factory(
      sink_spec("redis", {{"url", "redis://:hunter2-secret@127.0.0.1:1/0"}, {"primary_key", "user_id"}}, schema()));
  ASSERT_FALSE(down.is_ok());
  EXPECT_NE(down.status().message().find("cannot connect to Redis"), std::string::npos) << down.status().message();
  EXPECT_EQ(down.status().message().find("hunter2"), std::string::npos) << down.status().message();
}

TEST_F(RedisSinkTest, APasswordFromTheEnvironment) {
  cmd({"CONFIG", "SET", "requirepass", "s3cret"});
  ::setenv("SLUICE_TEST_REDIS_PASSWORD", "s3cret", 1);
  auto ok = factory({{"primary_key", "user_id"}, {"password_env", "SLUICE_TEST_REDIS_PASSWORD"}});
  EXPECT_TRUE(ok.is_ok()) << ok.status().message();
  auto wrong = factory({{"primary_key", "user_id"}});
  EXPECT_FALSE(wrong.is_ok());
  // Back to no password (the command is sent with it).
  redisContext* c = redisConnect("127.0.0.1", server().port());
  freeReplyObject(redisCommand(c, "AUTH s3cret"));
  freeReplyObject(redisCommand(c, "CONFIG SET requirepass %s", ""));
  redisFree(c);
}

TEST_F(RedisSinkTest, AServerRestartBetweenFlushesIsRetried) {
  auto f = factory({{"primary_key", "user_id"}});
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto w = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  ASSERT_TRUE(w->write(batch({{1, "eu", 1}})).is_ok());
  ASSERT_TRUE(w->flush().is_ok());
  ASSERT_TRUE(server().restart());  // no persistence: key 1 is gone
  ASSERT_TRUE(w->write(batch({{2, "eu", 2}})).is_ok());
  Status s = w->flush();
  ASSERT_TRUE(s.is_ok()) << s.message();
  ASSERT_TRUE(w->close().is_ok());
  EXPECT_EQ(sorted_keys("features:*"), (std::vector<std::string>{"features:2"}));
}

}  // namespace
}  // namespace sluice
