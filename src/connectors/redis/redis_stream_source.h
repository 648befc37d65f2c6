// Redis Streams source (connector = 'redis-stream', hiredis): every stream named in
// `stream` is a split, read through a consumer group (XREADGROUP) by one consumer whose
// name is stable across restarts (option `consumer`), so a restarted job finds its own
// pending entries. docs/redis.md explains the options and the guarantees.
//
// An entry becomes one record: its fields as a JSON object of strings ({"user_id":"7",...},
// decoded with the table's columns; "7" fills a BIGINT column), with metadata columns
// _key (the entry ID, '1700000000000-0'), _topic (the stream) and _timestamp (the ID's
// milliseconds): `event_time = '_timestamp'` uses the time Redis added the entry.
//
// Exactly-once with checkpoints: entries are acknowledged (XACK) only when a checkpoint
// that covers them completes (SourceReader::on_checkpoint_complete). A split's position is
// the ID of the last entry it emitted (entries come to one consumer in ID order) and the
// IDs of claimed entries emitted and not yet acknowledged. On restore the consumer first
// re-reads its own pending entries: those the checkpoint covers are acknowledged and
// skipped, the others emitted again. Without checkpoints nothing is acknowledged, so a
// restart emits every pending entry again (at-least-once).
//
// Dead consumers: entries pending longer than `claim_min_idle` at another consumer of the
// group (a competing Sluice job or any client that died) are claimed (XPENDING + XCLAIM, as
// XAUTOCLAIM does, but never from this job's own consumers, whose entries wait for a
// checkpoint) into the consumer '<consumer>:claimed', and emitted.
//
// Threads: the factory is built on the planner thread; each reader is used by its reader
// task's thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/source.h"

namespace sluice {

Result<std::unique_ptr<SourceFactory>> make_redis_stream_source_factory(const SourceSpec& spec);

// A stream entry ID 'ms-seq'.
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  auto operator<=>(const StreamId&) const = default;
  std::string text() const;
};
std::optional<StreamId> parse_stream_id(std::string_view text);

// A split's position (exposed for tests): the last entry emitted, the bounded end (none:
// unbounded), and the claimed entries emitted and not yet acknowledged. Encoded as text
// "LAST END CLAIMED..." ('-' for no end).
struct RedisStreamPosition {
  StreamId last;
  std::optional<StreamId> end;
  std::vector<StreamId> claimed;
};
std::string encode_redis_stream_position(const RedisStreamPosition& pos);
std::optional<RedisStreamPosition> decode_redis_stream_position(std::string_view bytes);

}  // namespace sluice
