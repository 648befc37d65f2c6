// The postgres connector: the PostgreSQL sink (postgres_sink.h) and CDC source
// (postgres_cdc_source.h); registered by
// builtin_connectors.cc when the build has libpq (SLUICE_WITH_POSTGRES).
#include "connectors/postgres/postgres_cdc_source.h"
#include "connectors/postgres/postgres_lookup.h"
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

constexpr OptionSpec kPostgresCdcSourceOptions[] = {
    {"dsn", "text", "required", "libpq connection string or URI ('postgresql://user@host:5432/db')"},
    {"table", "text", "the SQL table's name", "the PostgreSQL table(s): 'name', 'schema.name' or a comma list"},
    {"slot_name", "text", "required", "the logical replication slot (created when missing)"},
    {"publication", "text", "the slot's name", "the publication the slot streams"},
    {"create_publication", "bool", "true", "create the publication FOR TABLE ... when it is missing"},
    {"snapshot", "text", "initial", "'initial': read the tables first, then stream changes; 'never': changes only"},
    {"password_env", "text", "none", "environment variable holding the password (else the DSN, PGPASSWORD, .pgpass)"},
};

}  // namespace

void register_postgres_connector(ConnectorRegistry& r) {
  r.add_sink({"postgres", &make_postgres_sink_factory, kPostgresSinkOptions, {}});
  r.add_lookup({"postgres", &make_postgres_lookup_reader, kPostgresSinkOptions, {}});
  r.add_source({"postgres-cdc", &make_postgres_cdc_source_factory, kPostgresCdcSourceOptions, {}});
}

}  // namespace sluice
