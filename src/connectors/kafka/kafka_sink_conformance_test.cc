// The Kafka sink (guarantee 'exactly-once') in the sink conformance suite, against
// librdkafka's mock cluster; append and upsert modes. Read back with a read_committed
// consumer: append in write order (one partition), upsert folded by key (tombstones delete).
//
// Where the suite's exact expectations cannot hold, the target says why and those cases
// check that no row is lost (repeats allowed):
//  - Kafka cannot take committed messages back: resuming from a checkpoint older than the
//    last committed one, or --start-over, leaves the newer output in the topic;
//  - the mock cluster does not store offsets sent with a transaction, which is where the
//    sink records the last committed checkpoint: a restart there commits the restored
//    checkpoint's rows again even when they were committed (a real broker stores it).
#include <nlohmann/json.hpp>

#include <filesystem>

#include "connectors/kafka/kafka_test_util.h"
#include "connectors/sink_conformance.h"
#include "connectors/test_util.h"

namespace sluice::testing {
namespace {

std::string topic_of(const std::string& dir) {
  return "conformance-" + std::filesystem::path(dir).parent_path().filename().string();
}

std::vector<std::string> read_kafka_output(const std::string& dir, SinkMode mode) {
  std::vector<std::string> rows;
  std::map<int64_t, std::string> table;
  for (const auto& m : read_topic(topic_of(dir))) {
    if (mode == SinkMode::kUpsert) {
      const int64_t id = std::stoll(m.key.value_or("0"));
      if (!m.value) {
        table.erase(id);
        continue;
      }
      table[id] = nlohmann::json::parse(*m.value).at("name").get<std::string>();
      continue;
    }
    auto j = nlohmann::json::parse(m.value.value_or("{}"));
    rows.push_back(fmt::format("{}|{}", j.at("id").get<int64_t>(), j.at("name").get<std::string>()));
  }
  if (mode == SinkMode::kUpsert) {
    for (const auto& [id, name] : table) rows.push_back(fmt::format("{}|{}", id, name));
  }
  return rows;
}

SinkConformanceTarget kafka_sink_conformance_target() {
  SinkConformanceTarget t;
  t.name = "Kafka";
  t.modes = {SinkMode::kAppend, SinkMode::kUpsert};
  t.spec = [](const std::string& dir, SinkMode mode, SchemaPtr schema) {
    const std::string topic = topic_of(dir);
    (void)kafka_mock().create_topic(topic, 1);  // one partition: append order is the write order
    std::map<std::string, std::string> options{{"bootstrap_servers", kafka_mock().bootstrap_servers()},
                                               {"topic", topic},
                                               {"guarantee", "exactly-once"}};
    if (mode == SinkMode::kUpsert) {
      options.emplace("mode", "upsert");
      options.emplace("primary_key", "id");
    }
    return sink_spec("kafka", std::move(options), std::move(schema));
  };
  t.read = read_kafka_output;
  t.cannot_take_back_commits = "Kafka cannot take committed messages back (rollback, --start-over)";
  t.forgets_commits =
      "the mock cluster does not store offsets sent with a transaction (the sink's record of its last committed "
      "checkpoint), so a restart commits the restored checkpoint again";
  return t;
}

}  // namespace
}  // namespace sluice::testing

INSTANTIATE_SINK_CONFORMANCE(Kafka, sluice::testing::kafka_sink_conformance_target());
