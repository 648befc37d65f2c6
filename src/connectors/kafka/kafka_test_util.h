// Test helpers for the Kafka connector tests (not part of the library): one mock cluster
// per test binary, producing and reading a topic with a plain librdkafka client (not the
// connector under test).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_mock.h"

namespace sluice::testing {

// The mock cluster shared by the tests of this binary (3 brokers), started on first use.
inline KafkaMockCluster& kafka_mock() {
  static std::unique_ptr<KafkaMockCluster> cluster = [] {
    auto c = KafkaMockCluster::start(3);
    EXPECT_TRUE(c.is_ok()) << c.status().message();
    return std::move(c).value();
  }();
  return *cluster;
}

// A topic name unique within the test binary.
inline std::string unique_topic(const std::string& base) {
  static int counter = 0;
  return fmt::format("{}-{}", base, ++counter);
}

struct KafkaTestMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
  int64_t timestamp_ms = -1;
  std::vector<std::pair<std::string, std::string>> headers;
};

inline KafkaHandle test_client(rd_kafka_type_t type, const std::string& group = "") {
  KafkaClientSettings s;
  s.context = "test";
  s.set("bootstrap.servers", kafka_mock().bootstrap_servers());
  KafkaSettingList required;
  if (type == RD_KAFKA_CONSUMER) {
    required = {{"group.id", group.empty() ? "sluice-test-reader" : group},
                {"enable.auto.commit", "false"},
                {"enable.partition.eof", "true"},
                {"isolation.level", "read_committed"}};
  }
  auto h = make_kafka_handle(type, s, {}, required, "test client");
  EXPECT_TRUE(h.is_ok()) << h.status().message();
  return std::move(h).value();
}

// Produces messages to `partition` (-1: by the default partitioner) and waits for them.
inline void produce(const std::string& topic, const std::vector<std::pair<std::optional<std::string>, std::string>>& kv,
                    int32_t partition = -1, int64_t timestamp_ms = 0) {
  KafkaHandle p = test_client(RD_KAFKA_PRODUCER);
  const int32_t to = partition < 0 ? RD_KAFKA_PARTITION_UA : partition;
  for (const auto& [k, v] : kv) {
    // The RD_KAFKA_V_* macros cast their arguments unparenthesized: plain variables only.
    const void* key = k ? k->data() : nullptr;
    const size_t key_len = k ? k->size() : 0;
    void* value = const_cast<char*>(v.data());
    const size_t value_len = v.size();
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(to), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  }
  ASSERT_EQ(rd_kafka_flush(p.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

// Every message of `topic` (read_committed), by partition then offset.
inline std::vector<KafkaTestMessage> read_topic(const std::string& topic) {
  std::vector<KafkaTestMessage> out;
  KafkaHandle c = test_client(RD_KAFKA_CONSUMER);
  auto parts = kafka_partition_count(c.get(), topic, 5000);
  EXPECT_TRUE(parts.is_ok()) << parts.status().message();
  if (!parts.is_ok() || parts.value() == 0) return out;
  KafkaPartitionList list(rd_kafka_topic_partition_list_new(parts.value()));
  for (int p = 0; p < parts.value(); ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  EXPECT_EQ(rd_kafka_assign(c.get(), list.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  int eof = 0;
  std::map<int32_t, bool> at_end;
  for (int spins = 0; eof < parts.value() && spins < 2000; ++spins) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c.get(), 50);
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (!at_end[m->partition]) ++eof;
      at_end[m->partition] = true;
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaTestMessage msg;
      msg.partition = m->partition;
      msg.offset = m->offset;
      if (m->key) msg.key = std::string(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) msg.value = std::string(static_cast<const char*>(m->payload), m->len);
      msg.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t h = 0; rd_kafka_header_get_all(hdrs, h, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++h) {
          msg.headers.emplace_back(name, std::string(static_cast<const char*>(value), value ? size : 0));
        }
      }
      out.push_back(std::move(msg));
    } else {
      ADD_FAILURE() << "reading " << topic << ": " << rd_kafka_message_errstr(m);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(c.get());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset); });
  return out;
}

}  // namespace sluice::testing
