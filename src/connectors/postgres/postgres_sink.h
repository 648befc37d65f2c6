// The PostgreSQL sink (connector = 'postgres'): rows of a query into a PostgreSQL table over
// libpq (docs/postgres.md).
//
// Options: dsn (a libpq connection string or URI), table (may be schema-qualified),
// primary_key (upsert by these columns; '' = one global row), create_table ('true': create
// the table from the query's schema if missing), password_env (an environment variable
// holding the password; else the DSN, PGPASSWORD or ~/.pgpass).
//
// Writing. A batch of rows is applied in ONE PostgreSQL transaction, so no partial batch is
// ever visible:
//   - append tables: COPY table (columns) FROM STDIN in the binary format;
//   - upsert tables: the batch is reduced to each key's last change (+I/+U: its row, -D: a
//     delete; -U is superseded by its +U), the rows are copied (binary COPY) into a
//     temporary staging table and merged with one INSERT ... SELECT ... ON CONFLICT (key)
//     DO UPDATE, the deletes with one DELETE ... USING (keys compare with IS NOT DISTINCT
//     FROM: a NULL key is one key). A created table gets UNIQUE NULLS NOT DISTINCT (key)
//     (a PRIMARY KEY would refuse NULL group keys); an existing table needs a unique index
//     or constraint on exactly the key columns (checked when the job is planned).
//
// Without checkpoints: write() buffers rows; each periodic flush hands them to the writer's
// applier thread (serial_worker.h), which applies them while the job goes on; flush() and
// close() wait. At-least-once for appends, idempotent for upserts.
//
// With checkpoints: exactly-once through the shared transactional base
// (transactional_sink.h): rows of checkpoint N travel in the checkpoint; commit(N) applies
// every pending transaction <= N and records N in
//   _sluice_commits(job_id TEXT, sink_id TEXT, table_name TEXT, checkpoint_id BIGINT,
//                   PRIMARY KEY (job_id, sink_id))
// (in the table's schema) in the same PostgreSQL transaction (the transactional-outbox
// pattern), skipping transactions at or below the recorded id, so a commit replayed after a
// crash applies nothing twice. For append tables each commit also records its PostgreSQL
// transaction id per checkpoint in _sluice_undo(job_id, sink_id, checkpoint_id, xid): a
// rollback to an older checkpoint (a savepoint resumed, --start-over) deletes the rows whose
// xmin is a newer checkpoint's transaction (rows a user updated since then have a new xmin
// and stay; a warning says so when entries are missing). Upsert tables need no undo.
//
// A lost connection (server restarted, network) is kUnavailable: applies and commits are
// retried with the job's backoff after reconnecting; when retries run out the job fails and
// restarts from its checkpoint. Nothing logs the DSN or the password.
//
// The factory is created on the planner thread (it connects once to check the table); each
// writer is owned by one sink task.
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_postgres_sink_factory(const SinkSpec& spec);

}  // namespace sluice
