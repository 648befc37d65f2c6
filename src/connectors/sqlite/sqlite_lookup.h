// The sqlite connector's lookup reader: a SQLite table read whole by a lookup join
// (connectors/lookup.h). Options: path (the database), table (default: the SQL table name).
#pragma once

#include <memory>

#include "connectors/lookup.h"

namespace sluice {

Result<std::unique_ptr<LookupReader>> make_sqlite_lookup_reader(const LookupSpec& spec);

}  // namespace sluice
