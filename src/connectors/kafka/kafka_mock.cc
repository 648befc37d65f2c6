#include "connectors/kafka/kafka_mock.h"

#include <librdkafka/rdkafka_mock.h>

#include <mutex>

namespace sluice {
namespace {

// rd_kafka_mock_topic_create asserts on an existing topic: the check and the creation are
// one step for every cluster of this process.
std::mutex created_mu;

}  // namespace

Result<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::start(int brokers) {
  if (brokers < 1 || brokers > 16) return invalid_argument("kafka-mock: --brokers must be between 1 and 16, got {}", brokers);
  KafkaClientSettings settings;
  settings.context = "kafka-mock";
  // A client with test.mock.num.brokers owns a mock cluster and talks to it: the same
  // handle then answers metadata questions (create_topic()).
  ASSIGN_OR_RETURN(KafkaHandle handle,
                   make_kafka_handle(RD_KAFKA_PRODUCER, settings, {},
                                     {{"test.mock.num.brokers", std::to_string(brokers)},
                                      {"allow.auto.create.topics", "false"}},
                                     "mock cluster"));
  rd_kafka_mock_cluster_t* cluster = rd_kafka_handle_mock_cluster(handle.get());
  if (cluster == nullptr) return io_error("kafka-mock: cannot start the mock cluster (see the log)");
  std::unique_ptr<KafkaMockCluster> out(new KafkaMockCluster());
  out->handle_ = std::move(handle);
  out->cluster_ = cluster;
  out->bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster);
  return out;
}

KafkaMockCluster::~KafkaMockCluster() = default;  // the handle owns the cluster

Status KafkaMockCluster::create_topic(const std::string& topic, int partitions) {
  if (topic.empty() || partitions < 1 || partitions > 10000) {
    return invalid_argument("kafka-mock: topic '{}' with {} partitions: need a name and 1..10000 partitions", topic,
                            partitions);
  }
  std::lock_guard<std::mutex> lock(created_mu);
  // Ask the cluster whether the topic exists (a client may have auto-created it): the list
  // of all topics, because asking about one topic makes the mock create it.
  ASSIGN_OR_RETURN(std::vector<std::string> existing, kafka_list_topics(handle_.get(), 5000));
  for (const auto& t : existing) {
    if (t == topic) return invalid_argument("kafka-mock: topic '{}' exists already", topic);
  }
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_error(err, fmt::format("creating topic '{}'", topic));
  return Status::ok();
}

void KafkaMockCluster::inject_errors(int api_key, rd_kafka_resp_err_t error, int count) {
  for (int i = 0; i < count; ++i) rd_kafka_mock_push_request_errors(cluster_, api_key, 1, error);
}

}  // namespace sluice
