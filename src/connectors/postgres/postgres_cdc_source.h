// The PostgreSQL CDC source (connector = 'postgres-cdc'): the rows of PostgreSQL tables and
// then every change to them, as a changelog, through logical replication with the built-in
// `pgoutput` plugin, a publication and a named replication slot (docs/postgres.md).
//
// Options: dsn, table (one or a comma list; 'schema.name' allowed; every table must have the
// declared columns), slot_name, publication (default: the slot's name; created FOR TABLE
// ... when missing unless create_publication = 'false'), snapshot ('initial' | 'never'),
// password_env.
//
// Rows. The source is an upsert stream by the tables' primary key (SourceFactory::
// changelog_key()): +I for inserts and the initial snapshot, +U for an update (preceded by
// -U with the row before it when the table has REPLICA IDENTITY FULL), -D for a delete (the
// whole row with FULL, else the key columns and NULLs), and -D + +I for an update that
// changes the key. An UPDATE that leaves a TOASTed value unchanged does not carry it
// ('u' in pgoutput): with FULL the old row has it; other identities are refused at planning
// when a declared non-key column can be TOASTed. A TRUNCATE fails the job (no rows to
// delete are known).
//
// Life of a reader (one split, "0"; one replication connection):
//   - fresh start, snapshot = 'initial': the slot is (re)created with an exported snapshot;
//     a second connection reads the tables in a REPEATABLE READ transaction on that
//     snapshot (+I rows), then streaming starts at the slot's consistent point. While the
//     snapshot is read no checkpoint may record the position (can_checkpoint() is false:
//     barriers wait): a crash during it restarts it from scratch with a new slot, and no
//     checkpoint ever holds part of it.
//   - streaming: START_REPLICATION at the position; the position is an LSN at a transaction
//     boundary (the end of the last transaction emitted whole, or a keepalive's end of WAL
//     when idle) plus, inside a transaction, how many of its changes were emitted, so a
//     resumed reader skips exactly those. The slot's confirmed LSN is sent only from
//     on_checkpoint_complete() (the position the completed checkpoint recorded), so the
//     server keeps all the WAL a restart needs; without checkpoints as transactions end.
//   - a lost connection is retried with the job's backoff (SourceContext::retry), resuming
//     where the emitted changes end; then the job fails.
//
// Threads: the factory is built on the planner thread (it checks the server and tables);
// a reader is used by its reader task's thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/source.h"

namespace sluice {

Result<std::unique_ptr<SourceFactory>> make_postgres_cdc_source_factory(const SourceSpec& spec);

// A split position (exposed for tests): `lsn` (transactions committed before it were
// emitted whole) and, inside a transaction, its commit LSN and the changes emitted of it.
struct PgCdcPosition {
  uint64_t lsn = 0;
  uint64_t transaction_lsn = 0;  // 0: at a transaction boundary
  uint64_t changes = 0;
};
std::string encode_pg_cdc_position(const PgCdcPosition& pos);
std::optional<PgCdcPosition> decode_pg_cdc_position(std::string_view bytes);

}  // namespace sluice
