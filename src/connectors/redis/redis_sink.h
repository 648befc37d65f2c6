// The Redis sink (connector = 'redis'): an up-to-date view of a keyed result in Redis, one
// Redis key per row key, as a feature store serves it (docs/redis.md).
//
// Options: url ('redis://[:password@]host:port[/db]'), primary_key (required: the key
// columns), key_prefix (default '<table>:'), data_type ('hash': one field per non-key
// column; 'string': the row as a JSON object), ttl (a duration: each written key expires
// that long after its last write; none by default), password_env.
//
// A key is key_prefix followed by the key columns' values joined by ':' (NULL as an empty
// value). Each batch is reduced to every key's last change (+I/+U: written, -D: DEL, -U:
// superseded by its +U) and sent as one MULTI ... EXEC, pipelined: a batch is applied
// whole or not at all. hash: DEL then HSET of the non-NULL non-key columns (a NULL column is
// an absent field), so a key holds exactly its row.
//
// Guarantee: idempotent (writing a key again leaves the same value), so a replay after a
// crash is harmless. With checkpoints the rows of a checkpoint go in the same MULTI as the
// record of the checkpoint (hash 'sluice:commits', field '<job id>/<sink id>'), so a
// replayed commit is also skipped. A lost connection is retried with backoff after
// reconnecting. Nothing logs the URL or the password.
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_redis_sink_factory(const SinkSpec& spec);

}  // namespace sluice
