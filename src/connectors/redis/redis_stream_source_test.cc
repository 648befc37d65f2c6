// The Redis Streams source against a real redis-server (redis_test_server.h): entries as
// JSON records with their metadata, acknowledgement only after a completed checkpoint,
// restore from a checkpoint position (covered pending entries acknowledged and skipped,
// the others emitted again), claiming a dead consumer's pending entries, bounded runs,
// position encoding and option errors.
#include "connectors/redis/redis_stream_source.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "connectors/redis/redis_test_server.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::RedisTestServer;
using testing::source_spec;

SchemaPtr schema() { return make_schema({{"k", TypeId::kInt64}, {"v", TypeId::kString}}); }

class RedisStreamSourceTest : public ::testing::Test {
 protected:
  static RedisTestServer& server() { return RedisTestServer::shared(); }
  void SetUp() override { server().command({"FLUSHALL"}); }
  std::vector<std::string> cmd(const std::vector<std::string>& args) { return server().command(args); }

  Result<std::unique_ptr<SourceFactory>> factory(std::map<std::string, std::string> options) {
    options.emplace("url", server().url());
    options.emplace("stream", "events");
    return make_source_factory(source_spec("redis-stream", std::move(options), schema()));
  }
  std::unique_ptr<SourceReader> reader(std::map<std::string, std::string> options, const std::string& position = "") {
    auto f = factory(std::move(options));
    EXPECT_TRUE(f.is_ok()) << f.status().message();
    if (!f.is_ok()) return nullptr;
    factory_ = std::move(f.value());
    auto r = factory_->create_reader(0);
    EXPECT_TRUE(r.is_ok());
    auto reader = std::move(r.value());
    Status s = reader->open();
    EXPECT_TRUE(s.is_ok()) << s.message();
    if (!position.empty()) {
      s = reader->seek_checkpoint_position(position);
      EXPECT_TRUE(s.is_ok()) << s.message();
    }
    return reader;
  }
  void add(int from, int count, const std::string& stream = "events") {
    for (int i = from; i < from + count; ++i) {
      cmd({"XADD", stream, fmt::format("{}-1", 1000 + i), "k", std::to_string(i), "v", fmt::format("x\"{}", i)});
    }
  }
  // Polls until `want` records came (or kEnd, or 5 s); the records' bytes.
  std::vector<std::string> read(SourceReader& r, size_t want, bool* ended = nullptr, RawRecords* meta = nullptr,
                                int wait_ms = 5000) {
    std::vector<std::string> out;
    RawRecords batch;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
      batch.clear();
      auto st = r.poll(batch, want - out.size());
      EXPECT_TRUE(st.is_ok()) << st.status().message();
      if (!st.is_ok()) break;
      for (size_t i = 0; i < batch.size(); ++i) out.emplace_back(batch.record(i));
      if (meta && !batch.empty()) *meta = batch;
      if (st.value() == PollStatus::kEnd) {
        if (ended) *ended = true;
        break;
      }
    }
    return out;
  }
  // Pending entries of the group: total count.
  int64_t pending() { return std::stoll(cmd({"XPENDING", "events", "sluice"}).at(0)); }

  std::unique_ptr<SourceFactory> factory_;
};

TEST_F(RedisStreamSourceTest, EntriesAreJsonObjectsWithIdStreamAndTimestamp) {
  add(0, 3);
  auto r = reader({});
  RawRecords meta;
  auto got = read(*r, 3, nullptr, &meta);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], R"({"k":"0","v":"x\"0"})");
  EXPECT_EQ(got[2], R"({"k":"2","v":"x\"2"})");
  ASSERT_EQ(meta.size(), 3u);
  EXPECT_EQ(meta.metadata.topic, "events");
  EXPECT_EQ(meta.metadata.key(0), "1000-1");
  EXPECT_EQ(meta.metadata.broker_timestamps[1], 1001 * 1000);
}

TEST_F(RedisStreamSourceTest, AcknowledgedOnlyWhenTheCoveringCheckpointCompletes) {
  add(0, 10);
  auto r = reader({});
  ASSERT_EQ(read(*r, 6).size(), 6u);
  r->note_checkpoint(1);
  const std::string pos = r->checkpoint_position();
  EXPECT_EQ(pos, "1005-1 -");
  ASSERT_EQ(read(*r, 4).size(), 4u);
  EXPECT_EQ(pending(), 10) << "nothing is acknowledged before a checkpoint completes";
  ASSERT_TRUE(r->on_checkpoint_complete(1).is_ok());
  EXPECT_EQ(pending(), 4) << "the checkpoint covered the first six";
  r->note_checkpoint(2);
  ASSERT_TRUE(r->on_checkpoint_complete(2).is_ok());
  EXPECT_EQ(pending(), 0);
}

TEST_F(RedisStreamSourceTest, RestoreSkipsWhatTheCheckpointCoveredAndRereadsTheRest) {
  add(0, 10);
  std::string pos;
  {
    auto r = reader({});
    ASSERT_EQ(read(*r, 6).size(), 6u);
    r->note_checkpoint(1);
    pos = r->checkpoint_position();
    ASSERT_EQ(read(*r, 4).size(), 4u);
    // Killed: checkpoint 1 completed in the engine, but its acknowledgement never ran.
  }
  EXPECT_EQ(pending(), 10);
  auto r = reader({}, pos);
  add(10, 2);
  auto got = read(*r, 100, nullptr, nullptr, 1500);
  ASSERT_EQ(got.size(), 6u) << "entries 6..9 again (pending), then 10 and 11 (new)";
  EXPECT_EQ(got.front(), R"({"k":"6","v":"x\"6"})");
  EXPECT_EQ(got.back(), R"({"k":"11","v":"x\"11"})");
  EXPECT_EQ(pending(), 6) << "the six the checkpoint covered were acknowledged on restore";
}

TEST_F(RedisStreamSourceTest, RestoreReadsEveryPendingEntryBeforeNewOnesWhateverTheBatchSize) {
  add(0, 15);
  std::string pos;
  {
    auto r = reader({});
    ASSERT_EQ(read(*r, 10).size(), 10u);
    r->note_checkpoint(1);
    pos = r->checkpoint_position();
    ASSERT_EQ(read(*r, 5).size(), 5u);
  }
  add(15, 10);
  auto r = reader({}, pos);
  std::vector<std::string> got;
  RawRecords batch;
  for (int polls = 0; polls < 100 && got.size() < 15; ++polls) {
    batch.clear();
    auto st = r->poll(batch, 3);  // fewer than the covered pending entries
    ASSERT_TRUE(st.is_ok()) << st.status().message();
    for (size_t i = 0; i < batch.size(); ++i) got.emplace_back(batch.record(i));
  }
  ASSERT_EQ(got.size(), 15u) << "entries 10..14 (pending), then 15..24 (new), none lost";
  for (int i = 0; i < 15; ++i) EXPECT_EQ(got[i], fmt::format(R"({{"k":"{}","v":"x\"{}"}})", 10 + i, 10 + i));
}

TEST_F(RedisStreamSourceTest, WithoutACheckpointARestartEmitsEveryPendingEntryAgain) {
  add(0, 5);
  { ASSERT_EQ(read(*reader({}), 5).size(), 5u); }
  auto got = read(*reader({}), 100, nullptr, nullptr, 1500);
  EXPECT_EQ(got.size(), 5u) << "at-least-once without checkpoints";
}

TEST_F(RedisStreamSourceTest, ClaimsTheEntriesOfADeadConsumer) {
  add(0, 8);
  cmd({"XGROUP", "CREATE", "events", "sluice", "0"});
  // Another consumer takes three entries and dies without acknowledging them.
  ASSERT_FALSE(cmd({"XREADGROUP", "GROUP", "sluice", "dead", "COUNT", "3", "STREAMS", "events", ">"}).empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto r = reader({{"claim_min_idle", "10ms"}});
  auto got = read(*r, 8);
  ASSERT_EQ(got.size(), 8u) << "five new ones and the dead consumer's three";
  std::sort(got.begin(), got.end());
  EXPECT_EQ(std::adjacent_find(got.begin(), got.end()), got.end()) << "no entry twice";
  const std::string pos = r->checkpoint_position();
  EXPECT_NE(pos.find("1000-1"), std::string::npos) << "the claimed entries travel in the position: " << pos;
  r->note_checkpoint(1);
  ASSERT_TRUE(r->on_checkpoint_complete(1).is_ok());
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(r->checkpoint_position(), "1007-1 -");
}

TEST_F(RedisStreamSourceTest, AClaimedEntryNotCoveredByTheCheckpointIsEmittedAgainAfterACrash) {
  add(0, 4);
  cmd({"XGROUP", "CREATE", "events", "sluice", "0"});
  ASSERT_FALSE(cmd({"XREADGROUP", "GROUP", "sluice", "dead", "COUNT", "2", "STREAMS", "events", ">"}).empty());
  std::string pos;
  {
    auto r = reader({{"claim_min_idle", "0"}});
    ASSERT_EQ(read(*r, 2).size(), 2u);  // entries 2 and 3
    r->note_checkpoint(1);
    pos = r->checkpoint_position();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  {
    auto r = reader({{"claim_min_idle", "10ms"}}, pos);
    auto got = read(*r, 2);
    ASSERT_EQ(got.size(), 2u) << "the dead consumer's two, claimed";
    // Killed before a checkpoint: the claimed entries are pending at the claim consumer.
  }
  auto r = reader({{"claim_min_idle", "10ms"}}, pos);
  auto got = read(*r, 100, nullptr, nullptr, 1500);
  ASSERT_EQ(got.size(), 2u) << "the claimed entries again (no checkpoint covered them), nothing else";
  EXPECT_EQ(got[0], R"({"k":"0","v":"x\"0"})");
}

TEST_F(RedisStreamSourceTest, ABoundedRunEndsAtTheLastEntryOfTheStart) {
  add(0, 5);
  auto r = reader({{"bounded_mode", "latest"}});
  add(5, 3);
  bool ended = false;
  auto got = read(*r, 100, &ended);
  EXPECT_TRUE(ended);
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(r->checkpoint_position(), "1004-1 1004-1");
}

TEST_F(RedisStreamSourceTest, AnEmptyStreamEndsABoundedRunAtOnce) {
  bool ended = false;
  EXPECT_TRUE(read(*reader({{"bounded_mode", "latest"}}), 10, &ended).empty());
  EXPECT_TRUE(ended);
}

TEST_F(RedisStreamSourceTest, StartupModeLatestSkipsWhatIsThere) {
  add(0, 3);
  auto r = reader({{"startup_mode", "latest"}});
  add(3, 2);
  auto got = read(*r, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], R"({"k":"3","v":"x\"3"})");
}

TEST_F(RedisStreamSourceTest, SeveralStreamsAreSplits) {
  auto f = make_source_factory(
      source_spec("redis-stream", {{"url", server().url()}, {"stream", "b, a"}}, schema()));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(f.value()->num_splits(), 2);
  EXPECT_NE(f.value()->describe().find("a,b"), std::string::npos);
}

TEST_F(RedisStreamSourceTest, PositionsRoundTrip) {
  RedisStreamPosition p{{5, 2}, StreamId{9, 0}, {{1, 1}, {3, 0}}};
  const std::string text = encode_redis_stream_position(p);
  EXPECT_EQ(text, "5-2 9-0 1-1 3-0");
  auto back = decode_redis_stream_position(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->last, p.last);
  EXPECT_EQ(back->end, p.end);
  EXPECT_EQ(back->claimed, p.claimed);
  EXPECT_FALSE(decode_redis_stream_position("5-2").has_value());
  EXPECT_FALSE(decode_redis_stream_position("5 -").has_value());
  EXPECT_FALSE(decode_redis_stream_position("").has_value());
  ASSERT_TRUE(decode_redis_stream_position("0-0 -").has_value());
  EXPECT_FALSE(decode_redis_stream_position("0-0 -")->end.has_value());
}

TEST_F(RedisStreamSourceTest, OptionErrorsAreClear) {
  auto bad = [&](std::map<std::string, std::string> o) {
    auto f = factory(std::move(o));
    return f.is_ok() ? std::string() : f.status().message();
  };
  EXPECT_NE(bad({{"format", "csv"}}).find("format must be 'json'"), std::string::npos);
  EXPECT_NE(bad({{"startup_mode", "group"}}).find("startup_mode"), std::string::npos);
  EXPECT_NE(bad({{"bounded_mode", "timestamp"}}).find("bounded_mode"), std::string::npos);
  EXPECT_NE(bad({{"claim_min_idle", "-1s"}}).find("claim_min_idle"), std::string::npos);
  EXPECT_NE(bad({{"nope", "1"}}).find("nope"), std::string::npos);
  auto f = make_source_factory(source_spec("redis-stream", {{"url", "redis://127.0.0.1:1"}, {"stream", "s"}}, schema()));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("cannot connect"), std::string::npos) << f.status().message();
}

}  // namespace
}  // namespace sluice
