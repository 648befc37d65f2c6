// The sqlite connector: the SQLite sink and its options, and the SQLite backend of
// dead-letter queues and late-data outputs; registered by builtin_connectors.cc when the
// build has SQLite (SLUICE_WITH_SQLITE).
#include "connectors/registry.h"
#include "connectors/sqlite/sqlite_dead_letter.h"
#include "connectors/sqlite/sqlite_lookup.h"
#include "connectors/sqlite/sqlite_sink.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning). Paths are relative to the working
// directory of `sluice run`.
constexpr OptionSpec kSqliteSinkOptions[] = {
    {"path", "text", "required", "the database file (created if missing)"},
    {"table", "text", "the SQL table's name", "the SQLite table"},
    {"primary_key", "text", "none", "upsert by these columns ('a,b'); '' = one global row"},
};

}  // namespace

void register_sqlite_connector(ConnectorRegistry& r) {
  r.add_sink({"sqlite", &make_sqlite_sink_factory, kSqliteSinkOptions, {}});
  r.add_lookup({"sqlite", &make_sqlite_lookup_reader, kSqliteSinkOptions, {}});
  r.set_database_side_output(&make_sqlite_dead_letter_queue);
}

}  // namespace sluice
