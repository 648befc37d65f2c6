// The postgres connector's lookup reader: a PostgreSQL table (or view) read whole by a
// lookup join (connectors/lookup.h) with libpq. Options: dsn, password_env, table (default:
// the SQL table name; 'schema.name' allowed), as the postgres sink's.
#pragma once

#include <memory>

#include "connectors/lookup.h"

namespace sluice {

Result<std::unique_ptr<LookupReader>> make_postgres_lookup_reader(const LookupSpec& spec);

}  // namespace sluice
