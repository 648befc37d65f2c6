// The kafka connector (source and sink, librdkafka) and its options; registered by
// builtin_connectors.cc. docs/kafka.md explains each option and the guarantees.
#include "connectors/kafka/kafka_sink.h"
#include "connectors/kafka/kafka_source.h"
#include "connectors/registry.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning).
constexpr OptionSpec kKafkaSourceOptions[] = {
    {"bootstrap_servers", "text", "required", "the brokers, `host:port[,host:port...]`"},
    {"topic", "text", "none", "the topic, or a comma list of topics (or give `topic_pattern`)"},
    {"topic_pattern", "text", "none", "a regular expression: every matching topic, also ones created later"},
    {"group_id", "text", "none", "consumer group: offsets are committed to it after each completed checkpoint"},
    {"startup_mode", "text", "earliest", "`earliest`, `latest`, `group` (committed offsets) or `timestamp`"},
    {"startup_timestamp", "timestamp", "none", "startup_mode `timestamp`: the first record with this timestamp or later"},
    {"bounded_mode", "text", "none", "`latest` (read to the end offsets seen at the start, then end) or `timestamp`"},
    {"bounded_timestamp", "timestamp", "none", "bounded_mode `timestamp`: end before the first record at or after it"},
    {"discovery_interval", "duration", "30s", "how often new partitions and topics are looked for (unbounded)"},
    {"properties.*", "text", "none", "any librdkafka setting, e.g. `properties.security.protocol`"},
};
constexpr OptionSpec kKafkaSinkOptions[] = {
    {"bootstrap_servers", "text", "required", "the brokers, `host:port[,host:port...]`"},
    {"topic", "text", "required", "the topic written to"},
    {"key", "text", "none", "column(s) whose value is the message key (partitioning by murmur2, as Java clients)"},
    {"mode", "text", "append", "`append`, or `upsert`: key = primary_key, a delete is a tombstone"},
    {"primary_key", "text", "none", "upsert mode: the key columns"},
    {"guarantee", "text", "at-least-once", "`at-least-once` (idempotent producer) or `exactly-once` (transactions)"},
    {"transactional_id_prefix", "text", "sluice", "exactly-once: prefix of the stable transactional ids"},
    {"properties.*", "text", "none", "any librdkafka setting, e.g. `properties.compression.type`"},
};

}  // namespace

void register_kafka_connector(ConnectorRegistry& r) {
  r.add_source({"kafka", &make_kafka_source_factory, kKafkaSourceOptions, source_format_options()});
  r.add_sink({"kafka", &make_kafka_sink_factory, kKafkaSinkOptions, {}});
}

}  // namespace sluice
