// Kafka source (librdkafka): every partition of the table's topics is a split with its own
// watermark; partitions are found by a split enumerator (at the start, and every
// discovery_interval while the job runs: partitions of new topics, topics that appear
// later or match topic_pattern); one reader task reads many partitions through one
// consumer handle (one partition queue per split, no consumer-group rebalancing: the
// engine assigns splits, as Flink's KafkaSource does).
//
// Positions: a split's position is "NEXT END" (decimal text): the next offset to read and
// the offset to stop at (-1: unbounded). The enumerator resolves both when it finds a
// partition: startup_mode (earliest, latest, group, timestamp) for the partitions that
// exist at a fresh start, earliest for partitions found later; bounded_mode (latest,
// timestamp) fixes END at discovery, so a bounded run reads exactly what was there when
// it started. Resuming uses the checkpoint's positions only, never the group's offsets.
// Offsets are committed to group_id (when set) after each completed checkpoint, for
// monitoring tools (kcat, kafka-consumer-groups) only.
//
// Records carry key, headers, broker timestamp, partition and offset (RecordMetadata):
// tables may declare the metadata columns _key, _topic, _partition, _offset, _timestamp
// and _headers (formats/metadata_columns.h), and `event_time = '_timestamp'` uses the
// broker timestamp. A record whose value is NULL (a tombstone) produces no row.
//
// Options: docs/kafka.md. Threads: the factory is built on the planner thread;
// create_split_reader() is thread-safe; a reader, its shared consumer and the enumerator
// are each used by one thread at a time (SourceReader / SplitEnumerator contracts).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/source.h"

namespace sluice {

Result<std::unique_ptr<SourceFactory>> make_kafka_source_factory(const SourceSpec& spec);

// Position bytes of a split (see above); exposed for tests.
struct KafkaSplitPosition {
  int64_t next = 0;
  int64_t end = -1;  // -1: unbounded
};
std::string encode_kafka_position(const KafkaSplitPosition& pos);
std::optional<KafkaSplitPosition> decode_kafka_position(std::string_view bytes);

}  // namespace sluice
