// SQLite sink: writes results into a table of a SQLite database, either appending rows or
// maintaining an up-to-date view of an updating result (upsert by primary key).
//
// Options (WITH (...)):
//   path         required: the database file (created if missing; its directory must exist).
//   table        the SQLite table, default: the sink's table name.
//   primary_key  optional. Its PRESENCE makes this an upsert sink:
//                  'a,b'  composite key: +I/+U rows are upserted (INSERT ... ON CONFLICT
//                         DO UPDATE), -D rows delete by key, -U rows are skipped (the +U
//                         that follows carries the new value);
//                  ''     the table holds exactly one row (a global aggregate): each new
//                         value replaces it, -D empties the table.
//                Without it rows are appended (INSERT) and updates/deletes are refused.
//
// The table is created when missing, with columns BOOLEAN/BIGINT/INTERVAL -> INTEGER
// (INTERVAL in microseconds), DOUBLE -> REAL, TEXT -> TEXT, TIMESTAMP -> TEXT
// 'YYYY-MM-DD HH:MM:SS[.fff|.ffffff]' (UTC; what SQLite's date functions read), and
// PRIMARY KEY(...) when keyed. An existing table must have every column (checked when the
// factory is created if the file exists, and again at open).
//
// Transactions: the first write after a flush opens one; flush() commits it. The database
// runs in WAL mode with synchronous=NORMAL, so readers see committed results while the job
// runs. Guarantee: idempotent for upserts (replaying rows gives the same table),
// at-least-once for appends.
//
// The factory is created on the planner thread; its writer is owned by one sink task.
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_sqlite_sink_factory(const SinkSpec& spec);

}  // namespace sluice
