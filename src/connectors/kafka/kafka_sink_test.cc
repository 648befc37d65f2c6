// The Kafka sink against librdkafka's mock cluster: message keys and values, partitioning
// as a Java producer does it, upsert tombstones, delivery failures, and the transactional
// producer's fencing of a zombie with the same transactional id.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>  // after rdkafka.h
#include <nlohmann/json.hpp>

#include "connectors/kafka/java_murmur2_for_test.h"
#include "connectors/kafka/kafka_test_util.h"
#include "connectors/test_util.h"

namespace sluice::testing {
namespace {

SchemaPtr schema() {
  return make_schema({{"page", TypeId::kString}, {"n", TypeId::kInt64}, {"at", TypeId::kTimestamp}});
}

RecordBatch rows(const std::vector<std::tuple<std::string, int64_t, RowKind>>& values) {
  RecordBatch b(schema());
  for (const auto& [page, n, kind] : values) {
    b.mutable_column(0).append_string(page);
    b.mutable_column(1).append_int(n);
    b.mutable_column(2).append_int(1'700'000'000'000'000 + n);
    b.row_kinds.push_back(kind);
  }
  b.sync_num_rows();
  return b;
}

std::unique_ptr<SinkWriter> writer(std::map<std::string, std::string> options) {
  options.emplace("bootstrap_servers", kafka_mock().bootstrap_servers());
  auto f = make_sink_factory(sink_spec("kafka", options, schema()));
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  auto w = f.value()->create_writer();
  EXPECT_TRUE(w.is_ok());
  EXPECT_TRUE(w.value()->open().is_ok());
  return std::move(w).value();
}

TEST(KafkaSinkTest, HeadersAndTimestampColumnsBecomeTheMessagesHeadersAndTimestamp) {
  const std::string topic = unique_topic("sink-headers");
  ASSERT_TRUE(kafka_mock().create_topic(topic, 1).is_ok());
  SchemaPtr with_meta = make_schema(
      {{"page", TypeId::kString}, {"_headers", TypeId::kString}, {"n", TypeId::kInt64}, {"_timestamp", TypeId::kTimestamp}});
  auto f = make_sink_factory(sink_spec("kafka",
                                       {{"bootstrap_servers", kafka_mock().bootstrap_servers()}, {"topic", topic},
                                        {"key", "page"}},
                                       with_meta));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto w = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w->open().is_ok());
  RecordBatch b(with_meta);
  b.mutable_column(0).append_string("/a");
  b.mutable_column(1).append_string(R"({"trace":"t-1","n":7})");
  b.mutable_column(2).append_int(1);
  b.mutable_column(3).append_int(1'700'000'000'123'000);
  b.mutable_column(0).append_string("/b");
  b.mutable_column(1).append_null();
  b.mutable_column(2).append_int(2);
  b.mutable_column(3).append_null();
  b.sync_num_rows();
  ASSERT_TRUE(w->write(b).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  auto got = read_topic(topic);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(*got[0].value, R"({"page":"/a","n":1})") << "metadata columns are not part of the value";
  EXPECT_EQ(got[0].timestamp_ms, 1'700'000'000'123);
  ASSERT_EQ(got[0].headers.size(), 2u);
  EXPECT_EQ(got[0].headers[0], (std::pair<std::string, std::string>{"n", "7"}));
  EXPECT_EQ(got[0].headers[1], (std::pair<std::string, std::string>{"trace", "t-1"}));
  EXPECT_TRUE(got[1].headers.empty());
  EXPECT_GT(got[1].timestamp_ms, 1'700'000'000'123) << "no _timestamp: the producer's clock";

  RecordBatch bad(with_meta);
  bad.mutable_column(0).append_string("/c");
  bad.mutable_column(1).append_string("not json");
  bad.mutable_column(2).append_int(3);
  bad.mutable_column(3).append_null();
  bad.sync_num_rows();
  auto w2 = std::move(f.value()->create_writer()).value();
  ASSERT_TRUE(w2->open().is_ok());
  Status s = w2->write(bad);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("_headers must hold a JSON object"), std::string::npos) << s.message();
  auto wrong = make_sink_factory(sink_spec("kafka",
                                           {{"bootstrap_servers", kafka_mock().bootstrap_servers()}, {"topic", topic}},
                                           make_schema({{"_timestamp", TypeId::kString}})));
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_NE(wrong.status().message().find("must be a TIMESTAMP"), std::string::npos);
}

TEST(KafkaSinkTest, RowsAreJsonValuesKeyedAndPartitionedAsAJavaProducerWould) {
  const std::string topic = unique_topic("sink");
  ASSERT_TRUE(kafka_mock().create_topic(topic, 5).is_ok());
  auto w = writer({{"topic", topic}, {"key", "page"}});
  std::vector<std::tuple<std::string, int64_t, RowKind>> values;
  for (int i = 0; i < 200; ++i) values.emplace_back(fmt::format("/page/{}", i % 23), i, RowKind::kInsert);
  ASSERT_TRUE(w->write(rows(values)).is_ok());
  ASSERT_TRUE(w->close().is_ok());  // waits for every acknowledgement
  auto got = read_topic(topic);
  ASSERT_EQ(got.size(), 200u);
  std::set<int> partitions;
  for (const auto& m : got) {
    ASSERT_TRUE(m.key && m.value);
    auto v = nlohmann::json::parse(*m.value);
    EXPECT_EQ(v.at("page").get<std::string>(), *m.key);
    EXPECT_EQ(v.at("at").get<std::string>().substr(0, 4), "2023");
    EXPECT_EQ(m.partition, java_partition(*m.key, 5)) << *m.key;
    partitions.insert(m.partition);
  }
  EXPECT_GT(partitions.size(), 2u);
}

TEST(KafkaSinkTest, SeveralKeyColumnsMakeAJsonObjectKey) {
  const std::string topic = unique_topic("sink");
  auto w = writer({{"topic", topic}, {"key", "page, n"}});
  ASSERT_TRUE(w->write(rows({{"/a", 7, RowKind::kInsert}})).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  auto got = read_topic(topic);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key.value_or(""), "{\"page\":\"/a\",\"n\":7}");
}

TEST(KafkaSinkTest, UpsertModeWritesTombstonesForDeletesAndSkipsUpdateBefore) {
  const std::string topic = unique_topic("upsert");
  ASSERT_TRUE(kafka_mock().create_topic(topic, 1).is_ok());
  auto w = writer({{"topic", topic}, {"mode", "upsert"}, {"primary_key", "page"}});
  ASSERT_TRUE(w->write(rows({{"/a", 1, RowKind::kInsert},
                             {"/a", 1, RowKind::kUpdateBefore},
                             {"/a", 2, RowKind::kUpdateAfter},
                             {"/b", 5, RowKind::kInsert},
                             {"/b", 5, RowKind::kDelete}}))
                  .is_ok());
  ASSERT_TRUE(w->close().is_ok());
  auto got = read_topic(topic);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].key.value_or(""), "/a");
  EXPECT_EQ(nlohmann::json::parse(got[1].value.value_or("{}")).at("n"), 2);
  EXPECT_EQ(got[3].key.value_or(""), "/b");
  EXPECT_FALSE(got[3].value.has_value());  // tombstone
}

// Issue 9 point 13: a NULL one-column key would make a keyless message (a keyless tombstone
// for a delete), which updates no key: the row fails the job with the way out, before
// anything is sent, in both guarantees; a NULL part of a several-column key is `null` in
// its JSON object key, one key.
TEST(KafkaSinkTest, AnUpsertSinkRefusesANullOneColumnKey) {
  RecordBatch null_key(schema());
  null_key.mutable_column(0).append_null();
  null_key.mutable_column(1).append_int(1);
  null_key.mutable_column(2).append_int(1'700'000'000'000'000);
  null_key.row_kinds.push_back(RowKind::kDelete);
  null_key.sync_num_rows();
  for (const char* guarantee : {"at-least-once", "exactly-once"}) {
    const std::string topic = unique_topic("upsert-null");
    ASSERT_TRUE(kafka_mock().create_topic(topic, 1).is_ok());
    auto w = writer({{"topic", topic}, {"mode", "upsert"}, {"primary_key", "page"}, {"guarantee", guarantee}});
    if (std::string(guarantee) == "exactly-once") {
      ASSERT_TRUE(w->recover(SinkIdentity{"0123456789abcdef0123456789abcdef", "out.sink/0", true, false}, 0, "")
                      .is_ok());
    }
    Status s = w->write(null_key);
    ASSERT_FALSE(s.is_ok()) << guarantee;
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("key column 'page' is NULL"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("WHERE page IS NOT NULL"), std::string::npos) << s.message();
    (void)w->close();
    EXPECT_TRUE(read_topic(topic).empty()) << guarantee;
  }
}

TEST(KafkaSinkTest, ANullPartOfASeveralColumnUpsertKeyIsNullInTheJsonKey) {
  const std::string topic = unique_topic("upsert-null-part");
  ASSERT_TRUE(kafka_mock().create_topic(topic, 1).is_ok());
  auto w = writer({{"topic", topic}, {"mode", "upsert"}, {"primary_key", "page, n"}});
  RecordBatch b(schema());
  for (const char* page : {static_cast<const char*>(nullptr), ""}) {
    if (page) {
      b.mutable_column(0).append_string(page);
    } else {
      b.mutable_column(0).append_null();
    }
    b.mutable_column(1).append_int(1);
    b.mutable_column(2).append_int(1'700'000'000'000'000);
    b.row_kinds.push_back(RowKind::kDelete);
  }
  b.sync_num_rows();
  ASSERT_TRUE(w->write(b).is_ok());
  ASSERT_TRUE(w->close().is_ok());
  auto got = read_topic(topic);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key.value_or("(none)"), R"({"page":null,"n":1})");
  EXPECT_EQ(got[1].key.value_or("(none)"), R"({"page":"","n":1})");
}

TEST(KafkaSinkTest, AnAppendSinkRefusesDeletes) {
  auto w = writer({{"topic", unique_topic("append")}});
  Status s = w->write(rows({{"/a", 1, RowKind::kDelete}}));
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("append-only"), std::string::npos) << s.message();
}

TEST(KafkaSinkTest, AFailedDeliveryFailsTheCheckpoint) {
  const std::string topic = unique_topic("denied");
  ASSERT_TRUE(kafka_mock().create_topic(topic, 1).is_ok());
  rd_kafka_mock_topic_set_error(kafka_mock().cluster(), topic.c_str(), RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  auto w = writer({{"topic", topic}, {"properties.message.timeout.ms", "3000"}});
  Status written = w->write(rows({{"/a", 1, RowKind::kInsert}}));
  auto state = written.is_ok() ? w->pre_commit(1) : Result<std::string>(written);
  rd_kafka_mock_topic_set_error(kafka_mock().cluster(), topic.c_str(), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_FALSE(state.is_ok());
  EXPECT_NE(state.status().message().find("not delivered"), std::string::npos) << state.status().message();
}

TEST(KafkaSinkTest, OptionsAreChecked) {
  auto error = [](std::map<std::string, std::string> o) {
    o.emplace("bootstrap_servers", "127.0.0.1:9");
    o.emplace("topic", "t");
    auto f = make_sink_factory(sink_spec("kafka", o, schema()));
    return f.is_ok() ? std::string() : f.status().message();
  };
  EXPECT_NE(error({{"mode", "upsert"}}).find("needs option 'primary_key'"), std::string::npos);
  EXPECT_NE(error({{"key", "nope"}}).find("key column 'nope' is not a column"), std::string::npos);
  EXPECT_NE(error({{"guarantee", "maybe"}}).find("'at-least-once' or 'exactly-once'"), std::string::npos);
  EXPECT_NE(error({{"properties.transactional.id", "x"}}).find("instead of"), std::string::npos);
  EXPECT_NE(error({{"guarantee", "exactly-once"}, {"properties.enable.idempotence", "false"}}).find("idempotent"),
            std::string::npos);
  EXPECT_NE(error({{"properties.acks", "sometimes"}}).find("properties.acks"), std::string::npos);
  EXPECT_EQ(error({}), "");
}

// Two writers with the same transactional id (a restarted job and the zombie of the old
// run): the newer one fences the older, whose commit then fails instead of writing. The
// mock cluster does not fence by itself; the broker's answer to the zombie's EndTxn
// (PRODUCER_FENCED) is injected.
TEST(KafkaSinkTest, ARestartedExactlyOnceSinkFencesItsZombie) {
  const std::string topic = unique_topic("fenced");
  ASSERT_TRUE(kafka_mock().create_topic(topic, 1).is_ok());
  const SinkIdentity id{"0123456789abcdef0123456789abcdef", "out.sink/0", true, false};
  auto zombie = writer({{"topic", topic}, {"guarantee", "exactly-once"}});
  ASSERT_TRUE(zombie->recover(id, 0, "").is_ok());
  ASSERT_TRUE(zombie->write(rows({{"/zombie", 1, RowKind::kInsert}})).is_ok());
  auto zombie_state = zombie->pre_commit(1);
  ASSERT_TRUE(zombie_state.is_ok());
  auto fresh = writer({{"topic", topic}, {"guarantee", "exactly-once"}});
  ASSERT_TRUE(fresh->recover(SinkIdentity{id.job_id, id.sink_id, false, false}, 0, "").is_ok());
  kafka_mock().inject_errors(26 /* EndTxn */, RD_KAFKA_RESP_ERR_PRODUCER_FENCED, 1);
  Status late = zombie->commit(1);
  EXPECT_FALSE(late.is_ok());
  ASSERT_TRUE(fresh->write(rows({{"/fresh", 2, RowKind::kInsert}})).is_ok());
  ASSERT_TRUE(fresh->pre_commit(1).is_ok());
  ASSERT_TRUE(fresh->commit(1).is_ok());
  // The fresh writer's rows are committed. (The zombie's fenced messages are visible too:
  // the mock does not hide unfinished transactions from read_committed readers.)
  bool fresh_found = false;
  for (const auto& m : read_topic(topic)) fresh_found = fresh_found || m.value.value_or("").find("/fresh") != std::string::npos;
  EXPECT_TRUE(fresh_found);
}

}  // namespace
}  // namespace sluice::testing
