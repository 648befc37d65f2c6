// The http connector (the HTTP ingest source, cpp-httplib) and its options; registered by
// builtin_connectors.cc. docs/http-ingest.md explains each option, the answers and the
// durability guarantee.
#include "connectors/http/http_source.h"
#include "connectors/registry.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning).
constexpr OptionSpec kHttpSourceOptions[] = {
    {"listen", "text", "required", "`HOST:PORT` to listen on (a bare `PORT` or `:PORT` is loopback; port 0: any free port)"},
    {"path", "text", "/", "the path events are POSTed to"},
    {"token_file", "text", "none", "file holding a bearer token every request must send (required off loopback)"},
    {"wal_dir", "text", "none", "directory of the write-ahead log (default: CHECKPOINT_DIR/http-wal/TABLE)"},
    {"max_body_bytes", "integer", "8388608", "the largest request body; a larger one is answered 413"},
    {"max_pending_bytes", "integer", "67108864", "accepted bytes the job has not read yet above which requests get 429"},
    {"max_wal_bytes", "integer", "1073741824", "log bytes no completed checkpoint covers above which requests get 503"},
    {"segment_bytes", "integer", "67108864", "size at which the write-ahead log starts a new segment file"},
    {"request_timeout", "duration", "10s", "read and write timeout of a request"},
};
constexpr OptionSpec kHttpFormatOptions[] = {
    {"format", "text", "json", "`json` only: every event is a JSON object"},
    {"timestamp_unit", "text", "ms", "the unit of epoch numbers in TIMESTAMP and INTERVAL fields: `s`, `ms`, `us`"},
};

}  // namespace

void register_http_connector(ConnectorRegistry& r) {
  r.add_source({"http", &make_http_source_factory, kHttpSourceOptions, kHttpFormatOptions});
}

}  // namespace sluice
