// The NATS JetStream source and sink against a real nats-server started by the test
// process (nats_test_server.h): messages as records with their metadata, acknowledgement
// only when a checkpoint completes, restore at the checkpoint's sequence without waiting
// for redelivery, a fresh start after the acknowledged floor, bounded runs; the sink's
// plain publishing and its exactly-once commits (message ids deduplicated by the stream, a
// commit record in a key-value bucket); and the shared sink conformance suite.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "connectors/nats/nats_source.h"
#include "connectors/nats/nats_test_server.h"
#include "connectors/sink_conformance.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::NatsTestCluster;
using testing::source_spec;

NatsTestCluster& nats() { return NatsTestCluster::shared(); }

SchemaPtr schema() { return make_schema({{"k", TypeId::kInt64}, {"v", TypeId::kString}}); }

std::vector<std::string> payloads(int from, int count) {
  std::vector<std::string> out;
  for (int i = from; i < from + count; ++i) out.push_back(fmt::format(R"({{"k":{},"v":"x{}"}})", i, i));
  return out;
}

class NatsSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stream_ = fmt::format("S{}", ++counter_);
    subject_ = fmt::format("in{}.events", counter_);
    nats().create_stream(stream_, subject_);
  }
  void TearDown() override { nats().delete_stream(stream_); }

  std::unique_ptr<SourceReader> reader(std::map<std::string, std::string> options, const std::string& position = "") {
    options.emplace("url", nats().url());
    options.emplace("stream", stream_);
    options.emplace("subject", subject_);
    auto f = make_source_factory(source_spec("nats", std::move(options), schema()));
    EXPECT_TRUE(f.is_ok()) << f.status().message();
    if (!f.is_ok()) return nullptr;
    factory_ = std::move(f.value());
    auto r = std::move(factory_->create_reader(0).value());
    Status s = r->open();
    EXPECT_TRUE(s.is_ok()) << s.message();
    if (!position.empty()) {
      s = r->seek_checkpoint_position(position);
      EXPECT_TRUE(s.is_ok()) << s.message();
    }
    return r;
  }
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
  uint64_t floor(const std::string& consumer = "sluice-clicks") { return nats().ack_floor(stream_, consumer); }

  static inline int counter_ = 0;
  std::string stream_, subject_;
  std::unique_ptr<SourceFactory> factory_;
};

TEST_F(NatsSourceTest, MessagesAreRecordsWithSubjectSequenceAndTime) {
  nats().publish(subject_, payloads(0, 3));
  auto r = reader({});
  RawRecords meta;
  auto got = read(*r, 3, nullptr, &meta);
  ASSERT_EQ(got, payloads(0, 3));
  ASSERT_EQ(meta.size(), 3u);
  EXPECT_EQ(meta.metadata.key(0), subject_);
  EXPECT_EQ(meta.metadata.topic, stream_);
  EXPECT_EQ(meta.metadata.message_offsets[2], 3);
  EXPECT_GT(meta.metadata.broker_timestamps[0], 1700000000LL * 1000000);
}

TEST_F(NatsSourceTest, AcknowledgedOnlyWhenTheCoveringCheckpointCompletes) {
  nats().publish(subject_, payloads(0, 10));
  auto r = reader({});
  ASSERT_EQ(read(*r, 6).size(), 6u);
  r->note_checkpoint(1);
  EXPECT_EQ(r->checkpoint_position(), "6 -");
  ASSERT_EQ(read(*r, 4).size(), 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(floor(), 0u) << "nothing is acknowledged before a checkpoint completes";
  ASSERT_TRUE(r->on_checkpoint_complete(1).is_ok());
  for (int i = 0; i < 50 && floor() < 6; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(floor(), 6u) << "the checkpoint covered six messages";
}

TEST_F(NatsSourceTest, RestoreResumesAfterTheCheckpointWithoutWaitingForRedelivery) {
  nats().publish(subject_, payloads(0, 10));
  std::string pos;
  {
    auto r = reader({});
    ASSERT_EQ(read(*r, 6).size(), 6u);
    r->note_checkpoint(1);
    pos = r->checkpoint_position();
    ASSERT_EQ(read(*r, 4).size(), 4u);  // then killed: nothing acknowledged
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = reader({}, pos);
  auto got = read(*r, 4);
  EXPECT_EQ(got, payloads(6, 4));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3)) << "no wait for ack_wait";
  EXPECT_TRUE(read(*r, 1, nullptr, nullptr, 300).empty()) << "nothing repeated";
}

TEST_F(NatsSourceTest, AFreshStartResumesAfterTheAcknowledgedFloor) {
  nats().publish(subject_, payloads(0, 8));
  {
    auto r = reader({});
    ASSERT_EQ(read(*r, 5).size(), 5u);
    r->note_checkpoint(1);
    ASSERT_TRUE(r->on_checkpoint_complete(1).is_ok());
    for (int i = 0; i < 50 && floor() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto got = read(*reader({}), 3);
  EXPECT_EQ(got, payloads(5, 3));
}

TEST_F(NatsSourceTest, ABoundedRunEndsAtTheLastMessageOfTheStart) {
  nats().publish(subject_, payloads(0, 5));
  auto r = reader({{"bounded_mode", "latest"}});
  nats().publish(subject_, payloads(5, 3));
  bool ended = false;
  auto got = read(*r, 100, &ended);
  EXPECT_TRUE(ended);
  EXPECT_EQ(got, payloads(0, 5));
  EXPECT_EQ(r->checkpoint_position(), "5 5");
}

TEST_F(NatsSourceTest, StartupModeLatestReadsOnlyNewMessages) {
  nats().publish(subject_, payloads(0, 3));
  auto r = reader({{"startup_mode", "latest"}});
  nats().publish(subject_, payloads(3, 2));
  EXPECT_EQ(read(*r, 2), payloads(3, 2));
}

TEST_F(NatsSourceTest, OptionErrorsAreClear) {
  auto bad = [&](std::map<std::string, std::string> o) {
    o.emplace("url", nats().url());
    o.emplace("subject", subject_);
    auto f = make_source_factory(source_spec("nats", std::move(o), schema()));
    return f.is_ok() ? std::string() : f.status().message();
  };
  EXPECT_NE(bad({{"stream", "NOPE"}}).find("does not exist"), std::string::npos);
  EXPECT_NE(bad({{"stream", stream_}, {"consumer", "a.b"}}).find("consumer"), std::string::npos);
  EXPECT_NE(bad({{"stream", stream_}, {"startup_mode", "group"}}).find("startup_mode"), std::string::npos);
  EXPECT_NE(bad({{"stream", stream_}, {"ack_wait", "10ms"}}).find("ack_wait"), std::string::npos);
  auto f = make_source_factory(source_spec(
      "nats", {{"url", "http://x"}, {"stream", stream_}, {"subject", subject_}}, schema()));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("nats://"), std::string::npos);
  EXPECT_EQ(encode_nats_position({7, std::nullopt}), "7 -");
  EXPECT_EQ(decode_nats_position("7 9")->end, 9u);
  EXPECT_FALSE(decode_nats_position("7").has_value());
}

}  // namespace

namespace testing {
namespace {

SinkConformanceTarget nats_sink_conformance_target() {
  SinkConformanceTarget t;
  t.name = "Nats";
  t.modes = {SinkMode::kAppend};
  // One stream per test directory.
  auto subject_of = [](const std::string& dir) {
    return "out." + std::to_string(std::hash<std::string>{}(dir) % 1000000007);
  };
  t.spec = [subject_of](const std::string& dir, SinkMode, SchemaPtr schema) {
    static std::string last;
    const std::string subject = subject_of(dir);
    if (last != dir) {
      // A fresh output stream, and no commit records of the previous test's job.
      NatsTestCluster::shared().create_stream("C" + subject.substr(4), subject);
      NatsTestCluster::shared().delete_stream("KV_sluice_commits");
    }
    last = dir;
    return sink_spec("nats", {{"url", NatsTestCluster::shared().url()}, {"subject", subject}}, std::move(schema));
  };
  t.read = [subject_of](const std::string& dir, SinkMode) -> std::vector<std::string> {
    std::vector<std::string> out;
    for (const std::string& m : NatsTestCluster::shared().messages("C" + subject_of(dir).substr(4))) {
      // {"id":1,"name":"a"} -> 1|a
      const size_t id_at = m.find("\"id\":") + 5, comma = m.find(',', id_at);
      const size_t name_at = m.find("\"name\":");
      std::string name = m.substr(name_at + 7, m.size() - name_at - 8);
      if (name.size() >= 2 && name.front() == '"') name = name.substr(1, name.size() - 2);
      if (name == "null") name.clear();
      out.push_back(m.substr(id_at, comma - id_at) + "|" + name);
    }
    return out;
  };
  t.cannot_take_back_commits = "a JetStream stream cannot take published messages back";
  return t;
}

}  // namespace
}  // namespace testing
}  // namespace sluice

INSTANTIATE_SINK_CONFORMANCE(Nats, sluice::testing::nats_sink_conformance_target());
