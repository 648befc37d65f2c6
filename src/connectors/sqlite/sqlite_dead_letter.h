// Dead-letter queues and late-data outputs in a SQLite table (formats/dead_letter.h has
// the interface and the JSON-lines backend). Registered by the sqlite connector as the
// database side-output backend (connectors/registry.h); write() is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "formats/dead_letter.h"

namespace sluice {

// `table` empty: default_side_output_table(kind). The late-data table has a `queries`
// column (a JSON array of the sink tables that found the record late).
Result<std::unique_ptr<DeadLetterQueue>> make_sqlite_dead_letter_queue(const std::string& path,
                                                                       const std::string& table, SideOutputKind kind);

}  // namespace sluice
