// The redis connector: the Redis sink (redis_sink.h); registered by builtin_connectors.cc
// when the build has hiredis (SLUICE_WITH_REDIS).
#include "connectors/redis/redis_sink.h"
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

}  // namespace

void register_redis_connector(ConnectorRegistry& r) {
  r.add_sink({"redis", &make_redis_sink_factory, kRedisSinkOptions, {}});
}

}  // namespace sluice
