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
// Delivery guarantee: exactly-once when the job checkpoints (capabilities() says so).
// Without checkpoints: idempotent for upserts (replaying rows gives the same table),
// at-least-once for appends.
//
// Without checkpoints: the first write after a flush opens a transaction; flush() commits
// it. The database runs in WAL mode with synchronous=NORMAL, so readers see committed
// results while the job runs.
//
// With checkpoints (after recover()): write() buffers the rows (with their row kinds) in
// memory; flush() does nothing; pre_commit(N) closes the buffered rows into transaction N
// and returns, as the checkpoint state, every transaction not yet committed (usually just
// N; more when a checkpoint was aborted or its commit came late; encoded with
// types/batch_serde.h). commit(N) applies every pre-committed transaction <= N in id
// order, with the usual append/upsert/changelog semantics, and records N in
//   _sluice_commits(sink TEXT PRIMARY KEY, checkpoint_id INTEGER NOT NULL)   (sink = table)
// all in ONE SQLite transaction; transactions <= the recorded id are skipped, so a commit
// replayed after a crash (between the SQLite COMMIT and the runtime noticing it) applies
// nothing twice. recover(N, state) commits the state's transactions the same way (no-op
// when N is already recorded); rows written after checkpoint N were only in memory and
// are written again by the resumed job. A fresh start (recover(0)) keeps the table and its
// rows, as an open without checkpoints does, and deletes the sink's _sluice_commits row.
// Transactional mode sets synchronous=FULL: a recorded commit must survive power loss,
// because later checkpoints no longer carry its rows. Memory: rows are held between two
// checkpoints, and each checkpoint carries the rows of its transaction.
//
// The factory is created on the planner thread; its writer is owned by one sink task.
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_sqlite_sink_factory(const SinkSpec& spec);

}  // namespace sluice
