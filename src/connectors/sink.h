// Sink connectors.
//
// A sink writer is owned by one sink task and called only from its thread: open(), write()
// for each batch, flush() at quiet points (end of a batch of fired windows, periodic), and
// close() at the end of the job. Batches may carry changelog rows (RowKind): an upsert sink
// applies them by its primary key; an append-only sink refuses an updating stream at
// planning time unless the user allows a changelog (then it writes the op per row).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "connectors/options.h"
#include "types/record_batch.h"

namespace sluice {

enum class SinkGuarantee { kAtLeastOnce, kIdempotent, kExactlyOnce };
const char* sink_guarantee_name(SinkGuarantee g);

struct SinkSpec {
  std::string table;      // table name in SQL
  std::string connector;  // "console", "file", "sqlite"
  SchemaPtr schema;       // the sink's columns (declared or inferred from the query)
  ConnectorOptions options;
};

// Who commits into a sink's target: the job (its checkpoint directory's job id) and the sink
// instance (the sink operator's stable id and instance index, "<operator id>/<instance>").
// A fresh start (no checkpoint to resume) of a job that committed before means its
// checkpoints were lost: sinks refuse it unless `start_over` (see recover()).
struct SinkIdentity {
  std::string job_id;
  std::string sink_id;
  bool new_job = false;     // the job id was created by this run: nothing committed under it
  bool start_over = false;  // --start-over: roll back what this job committed, start fresh
  // The resolved path of the job's checkpoint directory (empty: unknown). Sinks record it with
  // their commits: another job id that committed from the same directory was this job before
  // the directory was deleted (TransactionalSinkWriter::start_fresh()).
  std::string checkpoint_dir = {};
};

class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual Status open() = 0;
  virtual Status write(const RecordBatch& batch) = 0;
  // Rows written so far become visible before it returns.
  virtual Status flush() = 0;
  // Starts making the rows written so far visible without waiting for it: a writer may apply
  // them on a thread of its own while the task goes on (the periodic flushes of a job
  // without checkpoints). A failure is returned by a later write(), start_flush(), flush()
  // or close(). The default flushes.
  virtual Status start_flush() { return flush(); }
  virtual Status close() = 0;

  // Two-phase commit tied to checkpoints (called only when the job checkpoints).
  //
  // recover() is called once, after open() and before any write(): the writer switches to
  // transactional mode, where write() goes to a pending transaction and flush() makes
  // nothing visible. `identity` names the job and sink instance that commit (commit records
  // are keyed by it, never by the table name alone; a writer stores it in its pre_commit()
  // state to recognise, after a restore, transactions an earlier job already committed).
  // `restored_id` is the checkpoint the job resumes from (0: a fresh start)
  // and `state` what pre_commit() returned for that checkpoint: the writer commits that
  // transaction if it is not committed yet (the crash came between the checkpoint and the
  // commit) and aborts (deletes) any pending transaction newer than it.
  // pre_commit(id) closes the rows written since the previous pre_commit() into transaction
  // `id`, durable but invisible, and returns what recover() needs to commit it later; the
  // runtime stores it in checkpoint `id`. commit(id) makes every pre-committed transaction
  // <= id visible; it is idempotent. Sinks without transactions keep the defaults
  // (pre_commit flushes: at-least-once).
  virtual Status recover(const SinkIdentity& identity, uint64_t restored_id, std::string_view state) {
    return Status::ok();
  }
  virtual Result<std::string> pre_commit(uint64_t id) {
    RETURN_IF_ERROR(flush());
    return std::string();
  }
  virtual Status commit(uint64_t id) { return Status::ok(); }
};

struct SinkCapabilities {
  // Applies updates/deletes by primary key. Keys compare with IS semantics: a NULL key
  // column equals NULL (a GROUP BY groups NULLs together), so each key, NULLs included,
  // is one row of the target, and a rerun replaces it rather than adding one.
  bool upsert = false;
  bool changelog_append = false;  // can write +I/-U/+U/-D rows with an op column
  SinkGuarantee guarantee = SinkGuarantee::kAtLeastOnce;
  std::vector<std::string> primary_key;  // for upsert sinks; empty = one global row
  // Several writers (one per sink instance, `sink.parallelism`) may write the target at
  // once, each with its own transactions and commit records (SinkIdentity::sink_id names
  // the instance). False for a sink whose target is one stream of bytes (a file, stdout).
  bool parallel_writers = false;
};

class SinkFactory {
 public:
  virtual ~SinkFactory() = default;
  virtual SinkCapabilities capabilities() const = 0;
  virtual Result<std::unique_ptr<SinkWriter>> create_writer() = 0;
  virtual std::string describe() const = 0;
};

Result<std::unique_ptr<SinkFactory>> make_sink_factory(const SinkSpec& spec);

}  // namespace sluice
