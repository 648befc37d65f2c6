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
// Without checkpoints: write() buffers rows; each periodic flush (start_flush()) hands them
// to the writer's applier thread (connectors/serial_worker.h), which applies them in one
// short transaction while the job goes on; flush() and close() wait until they are applied.
// A failed apply fails the next call. The database runs in WAL mode with synchronous=NORMAL,
// so readers see committed results while the job runs.
//
// With checkpoints (after recover()): write() buffers the rows (with their row kinds) in
// memory; flush() does nothing; pre_commit(N) closes the buffered rows into transaction N
// and returns, as the checkpoint state, every transaction not yet committed (usually just
// N; more when a checkpoint was aborted or its commit came late; encoded with
// types/batch_serde.h). commit(N) applies every pre-committed transaction <= N in id
// order, with the usual append/upsert/changelog semantics, and records N in
//   _sluice_commits(job_id TEXT, sink_id TEXT, table_name TEXT, checkpoint_id INTEGER,
//                   PRIMARY KEY (job_id, sink_id))
// all in ONE SQLite transaction; transactions <= the recorded id are skipped, so a commit
// replayed after a crash (between the SQLite COMMIT and the runtime noticing it) applies
// nothing twice. The record is keyed by who commits (sink.h SinkIdentity: the checkpoint
// directory's job id and the sink operator's stable id and instance), never by table name:
// several jobs (per-partition loaders, each with its own checkpoint directory) and several
// sinks may write one table, each with its own record. recover(N, state) commits the
// state's transactions the same way (no-op when N is already recorded); rows written after
// checkpoint N were only in memory and are written again by the resumed job. The state
// names the job that pre-committed its transactions: a job started from another job's
// savepoint skips those that job's record says it committed.
//
// Fresh start (recover(0)): the table keeps its rows, as an open without checkpoints does.
// When this job's record exists, its checkpoints were lost (corrupt or deleted) and a
// replay from the beginning would repeat what it committed: an append table refuses to
// start (kDataLoss, naming the table, the checkpoint and the way out) unless the job runs
// with --start-over, which rolls those rows back (undo entries, below) first; an upsert
// table ends the same after the replay and only logs it. A new job (its job id created by
// this run) that finds other jobs' records for the same sink or table logs a warning (two
// loaders of one table are fine). Each record also names the checkpoint directory (resolved
// path) it was made from: a record of another job id from this job's directory means the
// directory was deleted with its job_id file, and an append table refuses to start the
// same way (--start-over adopts that record and rolls its rows back;
// TransactionalSinkWriter). Records of an older sluice have no directory ('').
//
// Older layout: a database whose _sluice_commits/_sluice_undo are keyed by `sink` (the
// table name; an older sluice) is migrated in place: its rows get job id '' and sink id
// 'table:<name>'. A job resuming from a checkpoint of that sluice (whose state names no
// job) adopts the record of its table as its own; a fresh start forgets it (as it did).
//
// Rollback. The job may resume from a checkpoint N older than the checkpoint S > N already
// recorded (S was committed, then found corrupt and skipped, or the user resumes
// --from-savepoint an older savepoint); it then replays every row after N, and the rows of
// checkpoints N+1..S would be applied twice. recover(N) therefore rolls the table back to N
// first, in ONE SQLite transaction, and records N, so that the replayed checkpoints (under
// new ids > S: the coordinator numbers on after the newest checkpoint it has seen) are
// applied exactly once:
//   - append tables: each commit records, per transaction, the rowids it inserted in
//       _sluice_undo(job_id TEXT, sink_id TEXT, checkpoint_id INTEGER, first_rowid INTEGER,
//                    last_rowid INTEGER, PRIMARY KEY (job_id, sink_id, checkpoint_id))
//     (one writer in one transaction gets consecutive rowids; this is checked: when the
//     inserted rowids are not exactly first..last the entry has NULLs and a warning says the
//     rows cannot be rolled back). The rollback deletes the rows of every entry newer than
//     N (DELETE ... WHERE rowid BETWEEN first AND last) and those entries. Only the entries
//     of the newest kSqliteUndoRetention checkpoints are kept (older ones are replaced by one
//     entry with NULLs at the newest pruned id): resuming from a savepoint more than that
//     many checkpoints old, or past an entry with NULLs, logs a warning and may duplicate
//     rows of those checkpoints (at-least-once for them). A table without rowid (WITHOUT
//     ROWID, or a column named rowid) records nothing and is at-least-once on a rollback.
//   - upsert tables (primary_key): no undo is needed. Replaying the changes after N onto the
//     table of checkpoint S ends with the same table as the uninterrupted run (each key ends
//     with its last change; keys without a change after N kept their value of N), so the
//     rollback only records N.
// The bookkeeping (pending transactions, checkpoint state, recovery order, --start-over)
// is the shared transactional base's (connectors/transactional_sink.h); this sink is its
// TransactionTarget. A commit that finds the database locked by another writer after the
// busy timeout (SQLITE_BUSY/SQLITE_LOCKED, kUnavailable) is retried with backoff.
// Transactional mode sets synchronous=FULL: a recorded commit must survive power loss,
// because later checkpoints no longer carry its rows. Memory: rows are held between two
// checkpoints, and each checkpoint carries the rows of its transaction.
//
// The factory is created on the planner thread; its writer is owned by one sink task.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_sqlite_sink_factory(const SinkSpec& spec);

// What every SQLite destination of sluice (a sink's table, a dead-letter or late-data
// table) must be: `path` a plain database file (':memory:' and 'file:' URIs would write
// nowhere) and `table` not sluice's bookkeeping ('_sluice_*'). The error starts with
// `context`.
Status check_sqlite_destination(const std::string& path, const std::string& table, std::string_view context);

// Undo entries an append table keeps per sink: the newest checkpoints' (see Rollback above).
inline constexpr size_t kSqliteUndoRetention = 1000;

// Tests: lowers the retention of every SQLite sink in the process (0: the default again).
void set_sqlite_undo_retention_for_testing(size_t checkpoints);

}  // namespace sluice
