// Kafka sink (librdkafka): one message per row, the value the row as JSON (every column),
// the key the `key` column(s) (upsert mode: the primary key) as text: one column's value,
// or a JSON object of several. Messages are partitioned by murmur2 of the key, as the Java
// client does (librdkafka's `murmur2_random` partitioner: keyless messages are spread).
//
// Guarantees (docs/kafka.md):
//   at-least-once (default): an idempotent producer (no duplicates from producer retries);
//     every checkpoint (and the end of the job) waits until every message is acknowledged
//     by the brokers; a failed delivery fails the job. A restart may repeat the messages
//     written after the last checkpoint.
//   exactly-once: through the transactional sink base (transactional_sink.h): a
//     checkpoint's rows are kept (in memory and in the checkpoint) until it completes, then
//     written in one Kafka transaction with a transactional id that is stable per job and
//     sink instance ("<prefix>-<job id>-<sink id>"), so a restarted job fences its zombie
//     (init_transactions aborts what the old producer left open). The transaction also
//     commits the checkpoint id as the offset of group "<transactional id>" (partition 0 of
//     the topic), atomically with the rows: the recovery reads it back to commit a restored
//     checkpoint's rows exactly once. Consumers must read with isolation.level =
//     read_committed.
//   upsert mode (`mode = 'upsert'`, `primary_key`): +I/+U rows are written under their key,
//   -D rows as tombstones (NULL value), -U rows are skipped (their +U follows), as Flink's
//   upsert-kafka. Replaying an upsert topic is idempotent for a compacted topic's readers.
//
// Threads: the factory is built on the planner thread; a writer is used by its sink task
// only; delivery reports are served on that thread (rd_kafka_poll / flush).
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_kafka_sink_factory(const SinkSpec& spec);

}  // namespace sluice
