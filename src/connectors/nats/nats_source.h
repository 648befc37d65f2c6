// NATS JetStream source (connector = 'nats', libnats): a durable pull consumer per table
// reads the messages of `subject` in `stream` in stream-sequence order; the stream is one
// split. docs/nats.md explains the options and the guarantees.
//
// Position: the stream sequence of the last message emitted (plus the bounded end). The
// consumer acknowledges with AckAll: when a checkpoint completes, the last message it
// covers is acknowledged, which acknowledges every message before it; a crash therefore
// leaves the uncovered messages unacknowledged (redelivered to any client of the durable
// consumer), and a restore re-creates the durable consumer at the checkpoint's sequence + 1,
// so nothing is skipped and nothing repeated without waiting for redelivery timeouts. A
// fresh start resumes after the consumer's acknowledged floor when the durable consumer
// exists, else at startup_mode.
//
// Records: the message data, decoded with `format`; metadata columns _key (the message's
// subject), _topic (the stream), _offset (the stream sequence), _timestamp (when the
// stream stored it) and _headers.
//
// Threads: the factory is built on the planner thread; a reader is used by its reader
// task's thread (libnats runs its own I/O threads).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/source.h"

namespace sluice {

Result<std::unique_ptr<SourceFactory>> make_nats_source_factory(const SourceSpec& spec);

// "LAST END" ('-' for no end), exposed for tests.
struct NatsPosition {
  uint64_t last = 0;
  std::optional<uint64_t> end;
};
std::string encode_nats_position(const NatsPosition& pos);
std::optional<NatsPosition> decode_nats_position(std::string_view bytes);

}  // namespace sluice
