// Reading what SQLite sinks wrote, for end-to-end tests built with the sqlite connector.
#pragma once

#include <string>
#include <vector>

namespace sluice::testing {

// Every row of `sql` on the database `db_path` as "a|b|c" lines (NULL as "NULL"); an
// unreadable database or a bad query gives a line starting with "error:".
std::string sqlite_query(const std::string& db_path, const std::string& sql);

// The same rows as a vector, one "a|b|c" string per row.
std::vector<std::string> sqlite_query_rows(const std::string& db_path, const std::string& sql);

}  // namespace sluice::testing
