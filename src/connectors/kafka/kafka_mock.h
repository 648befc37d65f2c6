// A librdkafka mock cluster (rdkafka_mock.h): brokers speaking the real Kafka wire protocol
// on loopback, inside this process, for `sluice kafka-mock`, examples and tests. A
// development aid, not a broker: it keeps about 5 MB per partition, auto-creates topics
// (4 partitions) on first use, cannot add partitions to a topic, and does not hide aborted
// transactions from read_committed consumers (docs/kafka.md).
//
// Lifecycle: start() creates the cluster; it runs on librdkafka's threads until the object
// is destroyed. Methods may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "connectors/kafka/kafka_client.h"

struct rd_kafka_mock_cluster_s;

namespace sluice {

class KafkaMockCluster {
 public:
  static Result<std::unique_ptr<KafkaMockCluster>> start(int brokers);
  ~KafkaMockCluster();

  // "127.0.0.1:PORT,..." for bootstrap_servers.
  const std::string& bootstrap_servers() const { return bootstraps_; }
  // Creates `topic` with `partitions` partitions (an existing topic is an error).
  Status create_topic(const std::string& topic, int partitions);
  // Makes the next `count` requests of API `api_key` (a Kafka ApiKey) fail with `error`.
  void inject_errors(int api_key, rd_kafka_resp_err_t error, int count);
  rd_kafka_mock_cluster_s* cluster() { return cluster_; }

 private:
  KafkaMockCluster() = default;
  KafkaHandle handle_;
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstraps_;
};

}  // namespace sluice
