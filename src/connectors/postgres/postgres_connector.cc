// The postgres connector: the PostgreSQL sink (postgres_sink.h); registered by
// builtin_connectors.cc when the build has libpq (SLUICE_WITH_POSTGRES).
#include "connectors/postgres/postgres_sink.h"
#include "connectors/registry.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning).
constexpr OptionSpec kPostgresSinkOptions[] = {
    {"dsn", "text", "required", "libpq connection string or URI ('postgresql://user@host:5432/db')"},
    {"table", "text", "the SQL table's name", "the PostgreSQL table ('name' or 'schema.name')"},
    {"primary_key", "text", "none", "upsert by these columns ('a,b'); '' = one global row"},
    {"create_table", "bool", "false", "create the table from the query's columns if it is missing"},
    {"password_env", "text", "none", "environment variable holding the password (else the DSN, PGPASSWORD, .pgpass)"},
};

}  // namespace

void register_postgres_connector(ConnectorRegistry& r) {
  r.add_sink({"postgres", &make_postgres_sink_factory, kPostgresSinkOptions, {}});
}

}  // namespace sluice
