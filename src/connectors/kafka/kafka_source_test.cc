// The Kafka source against librdkafka's mock cluster (a real Kafka wire protocol peer in
// this process): partition discovery and split positions, bounded reads, metadata,
// startup modes, group offsets committed after completed checkpoints, restore.
#include <chrono>
#include <thread>

#include "connectors/kafka/kafka_source.h"
#include "connectors/kafka/kafka_test_util.h"
#include "connectors/test_util.h"
#include "metrics/registry.h"

namespace sluice::testing {
namespace {

SchemaPtr payload_schema() { return make_schema({{"v", TypeId::kInt64}}); }

std::unique_ptr<SourceFactory> factory(std::map<std::string, std::string> options, SchemaPtr schema = payload_schema()) {
  options.emplace("bootstrap_servers", kafka_mock().bootstrap_servers());
  auto f = make_source_factory(source_spec("kafka", options, std::move(schema)));
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  return f.is_ok() ? std::move(f).value() : nullptr;
}

Status factory_error(std::map<std::string, std::string> options) {
  options.emplace("bootstrap_servers", kafka_mock().bootstrap_servers());
  auto f = make_source_factory(source_spec("kafka", options, payload_schema()));
  return f.is_ok() ? Status::ok() : f.status();
}

std::vector<std::pair<std::optional<std::string>, std::string>> values(int from, int count) {
  std::vector<std::pair<std::optional<std::string>, std::string>> out;
  for (int i = from; i < from + count; ++i) out.emplace_back(fmt::format("k{}", i), fmt::format("{{\"v\":{}}}", i));
  return out;
}

// A topic with partitions holding 5, 0 and 7 messages.
std::string topic_5_0_7() {
  std::string t = unique_topic("src");
  EXPECT_TRUE(kafka_mock().create_topic(t, 3).is_ok());
  produce(t, values(0, 5), 0, 1700000000000);
  produce(t, values(100, 7), 2, 1700000001000);
  return t;
}

std::vector<SourceSplit> discover_all(SourceFactory& f, SplitChanges* last = nullptr) {
  auto e = f.create_enumerator();
  EXPECT_TRUE(e.is_ok());
  auto changes = e.value()->discover();
  EXPECT_TRUE(changes.is_ok()) << changes.status().message();
  if (last && changes.is_ok()) *last = changes.value();
  return changes.is_ok() ? changes.value().added : std::vector<SourceSplit>{};
}

// Polls until kEnd (or `limit` records, or 10 s), collecting records and metadata.
RawRecords read_split(SourceReader& r, size_t limit = SIZE_MAX, bool* ended = nullptr) {
  RawRecords all, batch;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline && all.size() < limit) {
    batch.clear();
    auto st = r.poll(batch, std::min<size_t>(limit - all.size(), 4096));
    EXPECT_TRUE(st.is_ok()) << st.status().message();
    if (!st.is_ok()) break;
    for (size_t k = 0; k < batch.size(); ++k) {
      all.append_record(batch.record(k), batch.offsets[k], batch.lines[k]);
      std::string_view key = batch.metadata.key(k);
      all.append_metadata(batch.metadata.has_key[k] ? &key : nullptr, {}, batch.metadata.broker_timestamps[k],
                          batch.metadata.partitions[k], batch.metadata.message_offsets[k]);
      all.metadata.topic = batch.metadata.topic;
    }
    if (st.value() == PollStatus::kEnd) {
      if (ended) *ended = true;
      break;
    }
    if (st.value() == PollStatus::kIdle) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return all;
}

std::unique_ptr<SourceReader> open_reader(SourceFactory& f, const SourceSplit& split, int reader = 0) {
  auto r = f.create_split_reader(split);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  SourceContext ctx;
  ctx.reader = reader;
  r.value()->attach(ctx);
  Status s = r.value()->open();
  EXPECT_TRUE(s.is_ok()) << s.message();
  return std::move(r).value();
}

TEST(KafkaSourceTest, PositionsRoundTrip) {
  auto p = decode_kafka_position(encode_kafka_position({42, 99}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->next, 42);
  EXPECT_EQ(p->end, 99);
  EXPECT_FALSE(decode_kafka_position("42"));
  EXPECT_FALSE(decode_kafka_position("a b"));
  EXPECT_FALSE(decode_kafka_position("1 -7"));
}

TEST(KafkaSourceTest, EveryPartitionIsASplitWithTheEndOffsetSeenAtTheStart) {
  const std::string t = topic_5_0_7();
  auto f = factory({{"topic", t}, {"bounded_mode", "latest"}});
  SplitChanges changes;
  auto splits = discover_all(*f, &changes);
  ASSERT_EQ(splits.size(), 3u);
  EXPECT_TRUE(changes.complete);  // bounded: no partition is added later
  EXPECT_EQ(splits[0].id, t + "-0");
  EXPECT_EQ(splits[0].position, "0 5");
  EXPECT_EQ(splits[1].position, "0 0");
  EXPECT_EQ(splits[2].id, t + "-2");
  EXPECT_EQ(splits[2].number, 2);
  EXPECT_EQ(splits[2].position, "0 7");
  EXPECT_TRUE(f->bounded());
}

TEST(KafkaSourceTest, ABoundedReaderReadsToTheEndWithKeysOffsetsAndBrokerTimestamps) {
  const std::string t = topic_5_0_7();
  auto f = factory({{"topic", t}, {"bounded_mode", "latest"}});
  auto splits = discover_all(*f);
  ASSERT_EQ(splits.size(), 3u);
  // Written after the start: beyond the bounded end, not read.
  produce(t, values(200, 3), 2, 1700000002000);
  auto r = open_reader(*f, splits[2]);
  bool ended = false;
  RawRecords got = read_split(*r, SIZE_MAX, &ended);
  EXPECT_TRUE(ended);
  ASSERT_EQ(got.size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(got.record(i), fmt::format("{{\"v\":{}}}", 100 + i));
    EXPECT_EQ(got.offsets[i], static_cast<int64_t>(i));
    EXPECT_EQ(got.metadata.key(i), fmt::format("k{}", 100 + i));
    EXPECT_EQ(got.metadata.partitions[i], 2);
    EXPECT_EQ(got.metadata.broker_timestamps[i], 1700000001000LL * 1000);
  }
  EXPECT_EQ(got.metadata.topic, t);
  EXPECT_EQ(r->checkpoint_position(), "7 7");
  // The empty partition ends at once.
  auto empty = open_reader(*f, splits[1]);
  bool empty_ended = false;
  EXPECT_EQ(read_split(*empty, SIZE_MAX, &empty_ended).size(), 0u);
  EXPECT_TRUE(empty_ended);
  ASSERT_TRUE(r->close().is_ok());
}

TEST(KafkaSourceTest, AReaderResumesAtItsCheckpointPosition) {
  const std::string t = topic_5_0_7();
  auto f = factory({{"topic", t}, {"bounded_mode", "latest"}});
  auto splits = discover_all(*f);
  std::string pos;
  {
    auto r = open_reader(*f, splits[2]);
    RawRecords first = read_split(*r, 3);
    ASSERT_EQ(first.size(), 3u);
    pos = r->checkpoint_position();
    EXPECT_EQ(pos, "3 7");
  }
  auto r = open_reader(*f, splits[2], 1);
  ASSERT_TRUE(r->seek_checkpoint_position(pos).is_ok());
  RawRecords rest = read_split(*r);
  ASSERT_EQ(rest.size(), 4u);
  EXPECT_EQ(rest.offsets[0], 3);
  EXPECT_EQ(rest.record(3), "{\"v\":106}");
}

TEST(KafkaSourceTest, StartupModesChooseTheFirstOffsets) {
  const std::string t = topic_5_0_7();
  auto positions = [&](std::map<std::string, std::string> o) {
    o["topic"] = t;
    auto f = factory(o);
    std::vector<std::string> out;
    for (const auto& s : discover_all(*f)) out.push_back(s.position);
    return out;
  };
  EXPECT_EQ(positions({{"startup_mode", "earliest"}}), (std::vector<std::string>{"0 -1", "0 -1", "0 -1"}));
  EXPECT_EQ(positions({{"startup_mode", "latest"}}), (std::vector<std::string>{"5 -1", "0 -1", "7 -1"}));
  // startup_mode 'timestamp' is not checked here: the mock cluster answers every
  // ListOffsets-by-timestamp with the log end offset (docs/kafka.md).
  // Committed group offsets (partition 2 only; the others start at their earliest offset).
  const std::string group = unique_topic("group");
  {
    KafkaHandle c = test_client(RD_KAFKA_CONSUMER, group);
    KafkaPartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), 2)->offset = 4;
    ASSERT_EQ(rd_kafka_commit(c.get(), list.get(), 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_consumer_close(c.get());
  }
  EXPECT_EQ(positions({{"startup_mode", "group"}, {"group_id", group}}),
            (std::vector<std::string>{"0 -1", "0 -1", "4 -1"}));
  EXPECT_EQ(positions({{"startup_mode", "latest"}, {"bounded_mode", "latest"}}),
            (std::vector<std::string>{"5 5", "0 0", "7 7"}));
}

// Offsets go to the group only once a checkpoint covering them completes, and they are the
// offsets that checkpoint recorded, not how far the reader got since.
TEST(KafkaSourceTest, GroupOffsetsAreCommittedAfterACompletedCheckpoint) {
  const std::string t = topic_5_0_7();
  const std::string group = unique_topic("monitor");
  auto f = factory({{"topic", t}, {"group_id", group}});
  auto splits = discover_all(*f);
  auto r = open_reader(*f, splits[2]);
  ASSERT_EQ(read_split(*r, 3).size(), 3u);
  r->note_checkpoint(1);
  EXPECT_EQ(r->checkpoint_position(), "3 -1");
  ASSERT_EQ(read_split(*r, 2).size(), 2u);  // read on after the barrier
  auto committed = [&] {
    KafkaHandle c = test_client(RD_KAFKA_CONSUMER, group);
    KafkaPartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), 2);
    EXPECT_EQ(rd_kafka_committed(c.get(), list.get(), 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t off = list->elems[0].offset;
    rd_kafka_consumer_close(c.get());
    return off;
  };
  EXPECT_LT(committed(), 0);  // nothing before the checkpoint completes
  ASSERT_TRUE(r->on_checkpoint_complete(1).is_ok());
  int64_t off = -1;
  for (int i = 0; i < 100 && off != 3; ++i) {  // the commit is asynchronous
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    RawRecords none;
    (void)r->poll(none, 1);  // serves the commit's result
    off = committed();
  }
  EXPECT_EQ(off, 3);
}

// sluice_source_consumer_lag{job, source, split}: the log end offset (as the last fetch
// reported it) minus the next offset to read, per partition.
TEST(KafkaSourceTest, ConsumerLagPerPartitionIsAGaugeOfTheMetricsRegistry) {
  const std::string t = topic_5_0_7();
  auto f = factory({{"topic", t}});
  auto splits = discover_all(*f);
  ASSERT_EQ(splits.size(), 3u);
  MetricsRegistry registry;
  auto made = f->create_split_reader(splits[2]);
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  SourceReader& r = *made.value();
  SourceContext ctx;
  ctx.table = "clicks";
  ctx.job = "lag-job";
  ctx.metrics = &registry;
  r.attach(ctx);
  ASSERT_TRUE(r.open().is_ok());
  auto lag = [&] {
    for (const FamilySnapshot& family : registry.collect()) {
      if (family.name != "sluice_source_consumer_lag") continue;
      EXPECT_EQ(family.type, MetricType::kGauge);
      EXPECT_EQ(family.label_names, (std::vector<std::string>{"job", "source", "split"}));
      if (const SeriesSnapshot* s = family.find({"lag-job", "clicks", t + "-2"})) return s->raw_value;
    }
    return int64_t{-1};
  };
  ASSERT_EQ(read_split(r, 3).size(), 3u);
  EXPECT_EQ(lag(), 4);  // 7 messages, 3 read
  produce(t, values(300, 2), 2);
  ASSERT_EQ(read_split(r, 6).size(), 6u);
  EXPECT_EQ(lag(), 0);
  ASSERT_TRUE(r.close().is_ok());
}

TEST(KafkaSourceTest, AfterARestoreOnlyNewPartitionsAreAddedFromTheirStart) {
  const std::string t = topic_5_0_7();
  auto f = factory({{"topic", t}, {"startup_mode", "latest"}});
  auto e = f->create_enumerator();
  ASSERT_TRUE(e.is_ok());
  ASSERT_TRUE(e.value()->restore({SourceSplit{t + "-0", 0, "3 -1"}}, "").is_ok());
  auto changes = e.value()->discover();
  ASSERT_TRUE(changes.is_ok()) << changes.status().message();
  ASSERT_EQ(changes.value().added.size(), 2u);
  // Not in the checkpoint: created since it was taken, so read from the start (not 'latest').
  EXPECT_EQ(changes.value().added[0].id, t + "-1");
  EXPECT_EQ(changes.value().added[0].number, 1);
  EXPECT_EQ(changes.value().added[1].position, "0 -1");
}

// The mock cluster creates a topic when a client asks for its metadata, so a topic that
// appears later is tested with a pattern (listing all topics creates none).
TEST(KafkaSourceTest, ATopicCreatedWhileRunningIsFoundByTheNextDiscovery) {
  const std::string prefix = unique_topic("grow");
  ASSERT_TRUE(kafka_mock().create_topic(prefix + "-a", 3).is_ok());
  auto f = factory({{"topic_pattern", prefix + "-.*"}, {"discovery_interval", "200ms"}});
  auto e = f->create_enumerator();
  auto first = e.value()->discover();
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  EXPECT_EQ(first.value().added.size(), 3u);
  EXPECT_FALSE(first.value().complete);
  EXPECT_EQ(e.value()->discovery_interval(), 200 * kMicrosPerMilli);
  const std::string later = prefix + "-b";
  ASSERT_TRUE(kafka_mock().create_topic(later, 2).is_ok());
  produce(later, values(0, 2), 1);
  auto next = e.value()->discover();
  ASSERT_TRUE(next.is_ok());
  ASSERT_EQ(next.value().added.size(), 2u);
  EXPECT_EQ(next.value().added[0].id, later + "-0");
  EXPECT_EQ(next.value().added[0].number, 3);
  EXPECT_EQ(next.value().added[1].position, "0 -1");
  EXPECT_TRUE(e.value()->discover().value().added.empty());
}

TEST(KafkaSourceTest, OptionsAreChecked) {
  EXPECT_NE(factory_error({}).message().find("exactly one of the options 'topic'"), std::string::npos);
  EXPECT_NE(factory_error({{"topic", "a"}, {"topic_pattern", "a.*"}}).message().find("exactly one"), std::string::npos);
  EXPECT_NE(factory_error({{"topic", "a"}, {"startup_mode", "group"}}).message().find("needs option 'group_id'"),
            std::string::npos);
  EXPECT_NE(factory_error({{"topic", "a"}, {"startup_mode", "soon"}}).message().find("'earliest', 'latest'"),
            std::string::npos);
  EXPECT_NE(factory_error({{"topic", "a"}, {"bounded_mode", "timestamp"}}).message().find("bounded_timestamp"),
            std::string::npos);
  EXPECT_NE(factory_error({{"topic", "a"}, {"properties.no.such.setting", "1"}}).message().find("no.such.setting"),
            std::string::npos);
  // A secret's value is never echoed, even when librdkafka refuses the setting.
  Status s = factory_error({{"topic", "a"}, {"properties.sasl.password", "hunter2"}, {"properties.acks", "x"}});
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
  // Metadata columns must have their type.
  auto bad = make_source_factory(source_spec("kafka", {{"topic", "a"}, {"bootstrap_servers", "x:1"}},
                                             make_schema({{"_partition", TypeId::kString}})));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("metadata column '_partition' must be BIGINT"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace sluice::testing
