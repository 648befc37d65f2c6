// The redis connectors: the Redis sink (redis_sink.h) and the Redis Streams source
// (redis_stream_source.h); registered by builtin_connectors.cc when the build has hiredis
// (SLUICE_WITH_REDIS).
#include "connectors/redis/redis_sink.h"
#include "connectors/redis/redis_stream_source.h"
#include "connectors/registry.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning).
constexpr OptionSpec kRedisSinkOptions[] = {
    {"url", "text", "required", "'redis://[:password@]host:port[/db]'"},
    {"primary_key", "text", "required", "the columns that make a row's key ('a,b')"},
    {"key_prefix", "text", "'<table>:'", "prepended to the key columns' values joined by ':'"},
    {"data_type", "text", "hash", "'hash' (a field per non-key column) or 'string' (the row as JSON)"},
    {"ttl", "duration", "none", "each written key expires this long after its last write"},
    {"password_env", "text", "none", "environment variable holding the password (else the URL's)"},
};
constexpr OptionSpec kRedisStreamOptions[] = {
    {"url", "text", "required", "'redis://[:password@]host:port[/db]'"},
    {"stream", "text", "required", "the stream, or a comma list of streams (each a split)"},
    {"group_id", "text", "sluice", "the consumer group (created at startup_mode's end when missing)"},
    {"consumer", "text", "'sluice-<table>'", "this job's consumer name in the group; keep it stable across restarts"},
    {"startup_mode", "text", "earliest", "where a new group starts: `earliest` (the first entry) or `latest` (new ones)"},
    {"bounded_mode", "text", "none", "`latest`: read up to the last entry at the start, then end"},
    {"claim_min_idle", "duration", "5m", "claim entries pending this long at another consumer (0: never)"},
    {"password_env", "text", "none", "environment variable holding the password (else the URL's)"},
};

}  // namespace

void register_redis_connector(ConnectorRegistry& r) {
  r.add_sink({"redis", &make_redis_sink_factory, kRedisSinkOptions, {}});
  r.add_source({"redis-stream", &make_redis_stream_source_factory, kRedisStreamOptions, source_format_options()});
}

}  // namespace sluice
