// TransactionalSinkWriter: the two-phase commit of sink.h, written once for every
// exactly-once sink. A sink connector implements a small TransactionTarget (how rows reach
// its system, how a transaction is made durable, committed, rolled back, and what it
// records as committed); this class does the bookkeeping that is the same for all of them:
//
//   - plain mode (the job does not checkpoint): write/flush/close go to the target;
//   - recover(identity, N, state): switches to transactional mode; N = 0 is a fresh start:
//     when this job committed into the target before, its checkpoints were lost and a replay
//     from the beginning would repeat that output: refused (kDataLoss) unless --start-over
//     (then rolled back) or the target is idempotent under replay (upsert by key). The same
//     holds for output another job id committed from the same checkpoint directory (the
//     directory was deleted, job_id with it: commit records name the directory). N > 0:
//     the state of checkpoint N is decoded (the committer key, the transactions pending at
//     N), output committed after N (by a newer checkpoint that was lost or passed over) is
//     rolled back, the transactions of N are committed (the crash came between the
//     checkpoint and its commit; idempotent), and whatever no checkpoint covers is aborted;
//   - pre_commit(id): the rows written since the previous pre-commit become transaction id
//     (durable, invisible; none when there were no rows); the returned state lists every
//     transaction pre-committed and not yet committed, so a checkpoint whose commit never
//     came is committed by the next one, or by the recovery;
//   - commit(id): the TransactionCommitter commits every pending transaction <= id, retrying
//     transient failures (kUnavailable) with the shared RetryPolicy (retry.h). It needs no
//     writer state: the prepared transactions carry everything a commit needs, which is
//     also what makes the recovery able to commit them in a new process.
//
// Checkpoint state (the blob the runtime stores per sink instance):
//   u8 version 2, str job id, str sink id, varint count, per transaction (ascending ids,
//   each <= the checkpoint's id): varint id, then the target's encoding of it.
// Version 1 (older sluice) has no committer key (TransactionTarget::legacy_key()); its
// per-transaction encoding is the same, so older checkpoints of the file and SQLite sinks
// still restore.
//
// Threads: a writer, its target and its committer are used by the one sink task that owns
// them. Targets: file (file/file_sink.cc: a part file per checkpoint, committed by rename),
// SQLite (sqlite/sqlite_sink.cc: rows kept in the checkpoint, applied with the commit record
// in one SQLite transaction); docs/architecture.md says how PostgreSQL, Kafka and Redis fit.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/serde.h"
#include "connectors/retry.h"
#include "connectors/serial_worker.h"
#include "connectors/sink.h"
#include "types/record_batch.h"

namespace sluice {

// Who commits (sink.h SinkIdentity without the run flags): commit records are keyed by it.
struct CommitKey {
  std::string job_id;
  std::string sink_id;
  bool operator==(const CommitKey&) const = default;
};

// Another job's commit record from the same checkpoint directory (see
// TransactionTarget::commits_from_directory()).
struct EarlierJobCommit {
  CommitKey key;
  uint64_t checkpoint_id = 0;  // the newest checkpoint it recorded
};

// One pre-committed transaction as the target keeps it until it commits: what a commit
// needs, in this process or, decoded from a checkpoint, in the next one (file: nothing but
// its id, the pending part is named by it; SQLite: its rows; Kafka: the transactional id
// and producer epoch).
class PreparedTransaction {
 public:
  virtual ~PreparedTransaction() = default;
  // Appends what a commit after a restore needs to the checkpoint state.
  virtual void encode(ByteWriter& w) const = 0;
};

using PreparedTransactions = std::map<uint64_t, std::unique_ptr<PreparedTransaction>>;

// What a sink connector implements. Called by one TransactionalSinkWriter, on the sink task's
// thread. "Committed" always means: by this committer key, as the target's own record says
// (SQLite: _sluice_commits; file: the committed parts; PostgreSQL: a commit table).
class TransactionTarget {
 public:
  virtual ~TransactionTarget() = default;

  // Names the output in messages ("file 'out.jsonl'", "sqlite table 'views' in 'out.db'").
  virtual std::string describe() const = 0;

  // --- Writer side ---
  virtual Status open() = 0;
  // Plain mode: rows go to the output. Transactional mode: into the open transaction.
  virtual Status write(const RecordBatch& batch) = 0;
  // Plain mode only: rows written so far become visible (never called when transactional).
  virtual Status flush() = 0;
  // Plain mode only: as flush(), but may return before the rows are visible (SinkWriter::
  // start_flush()); the default flushes.
  virtual Status start_flush() { return flush(); }
  // Ends the writer. Transactional: the open transaction is dropped (its rows belong to no
  // checkpoint; the job writes them again after a restart).
  virtual Status close() = 0;

  // Switches to transactional mode, committing as `key`; once, after open(), before write().
  virtual Status begin_transactions(const CommitKey& key) = 0;
  // The resolved checkpoint directory of the committing job (SinkIdentity::checkpoint_dir),
  // for a target whose commit records can carry it (commits_from_directory()). Called before
  // begin_transactions(). Default: ignored.
  virtual void set_checkpoint_dir(const std::string& dir) {}
  // Closes the rows written since the previous prepare() into transaction `id`: durable (or
  // carried by the checkpoint, see encode()) and invisible. nullptr: no rows, no transaction.
  virtual Result<std::unique_ptr<PreparedTransaction>> prepare(uint64_t id) = 0;
  // Reads back what PreparedTransaction::encode() wrote (kDataLoss on malformed input:
  // leave the reader failed, or return the error).
  virtual Result<std::unique_ptr<PreparedTransaction>> decode_transaction(uint64_t id, ByteReader& r) = 0;

  // --- Committer side (needs no writer state) ---
  // Makes `transactions` (ids ascending, all <= id) visible and records `id` as committed,
  // atomically where the target can. Idempotent: transactions at or below the checkpoint
  // already recorded, or at or below `skip_through` (what another committer recorded for
  // them, see foreign_committed_id()), are skipped. A transient failure is kUnavailable:
  // the committer retries it.
  virtual Status commit(const PreparedTransactions& transactions, uint64_t id, uint64_t skip_through) = 0;
  // The newest checkpoint this sink committed (0: none). `identity.new_job`: the job id was
  // created by this run, so nothing can be its own (a target whose output carries no job id,
  // like the file sink's parts, returns 0 then).
  virtual Result<uint64_t> committed_id(const SinkIdentity& identity) = 0;
  // The transactions of a restored checkpoint were pre-committed under another key (the job
  // started from another job's savepoint, or an older sluice): the newest checkpoint that
  // committer recorded, whose transactions must not be applied again. Default: 0.
  virtual Result<uint64_t> foreign_committed_id(const CommitKey& other) { return uint64_t{0}; }
  // The commit records of this output (same sink id or same table) made by other job ids from
  // the checkpoint directory `dir` (their records name it): that directory was deleted and
  // recreated (a new job id), so their output is this job's from before. Default: none (a
  // target whose records name no directory, or whose job ids cannot differ).
  virtual Result<std::vector<EarlierJobCommit>> commits_from_directory(const std::string& dir) {
    return std::vector<EarlierJobCommit>{};
  }
  // Makes the commit records (and undo entries) of `earlier` this sink's own, so that
  // roll_back(0) undoes that output (--start-over after the checkpoint directory was
  // deleted). Only called for what commits_from_directory() returned. Default: nothing to do.
  virtual Status adopt_records(const CommitKey& earlier) { return Status::ok(); }
  // The committer key a version-1 state (no key) stands for. Default: an empty key.
  virtual CommitKey legacy_key() const { return {}; }
  // Rolls back what this sink committed after checkpoint `id` (0: everything), so that the
  // replay after `id` is applied once. A target that cannot undo some of it says so in a
  // warning (those rows may repeat); nothing newer than `id`: no-op.
  virtual Status roll_back(uint64_t id) = 0;
  // Replaying rows already applied leaves the output as it was (upsert by key): a fresh
  // start over a committed output needs no --start-over, a rollback no undo.
  virtual bool replay_is_idempotent() const = 0;
  // The target's part of a fresh start (recover(0)), after the committed-output check:
  // e.g. the file sink's 'overwrite' empties the output, SQLite forgets its undo entries.
  virtual Status start_fresh(const SinkIdentity& identity) = 0;
  // Aborts everything no checkpoint covers once the job resumes from `restored_id` (0: a
  // fresh start): leftovers of the open transaction and transactions pre-committed after it.
  virtual Status abort_uncovered(uint64_t restored_id) = 0;
};

// The commit side: transactions pre-committed and not yet committed, and their commit with
// retries. A failed commit leaves them pending: the next checkpoint's state still lists
// them, and a later commit() or the recovery commits them.
class TransactionCommitter {
 public:
  TransactionCommitter(TransactionTarget& target, RetryPolicy policy, RetryClock& clock)
      : target_(target), policy_(policy), clock_(clock) {}

  void add(uint64_t id, std::unique_ptr<PreparedTransaction> transaction) {
    pending_.emplace(id, std::move(transaction));
  }
  const PreparedTransactions& pending() const { return pending_; }

  // Commits every pending transaction <= id and records `id`. Nothing pending <= id: no-op.
  Status commit_through(uint64_t id);
  // Recovery: commits the transactions restored with checkpoint `id` (none: records `id`).
  Status commit_restored(const PreparedTransactions& restored, uint64_t id, uint64_t skip_through);

 private:
  Status commit_with_retry(const PreparedTransactions& due, uint64_t id, uint64_t skip_through);

  TransactionTarget& target_;
  RetryPolicy policy_;
  RetryClock& clock_;
  PreparedTransactions pending_;
};

// How long a commit is retried by default: about 10 s over 6 attempts.
RetryPolicy default_commit_retry_policy();

class TransactionalSinkWriter final : public SinkWriter {
 public:
  // `context` prefixes messages ("table out").
  TransactionalSinkWriter(std::unique_ptr<TransactionTarget> target, std::string context,
                          RetryPolicy commit_retry = default_commit_retry_policy(),
                          RetryClock& clock = system_retry_clock());
  ~TransactionalSinkWriter() override;

  Status open() override;
  Status write(const RecordBatch& batch) override;
  Status flush() override;
  Status start_flush() override;
  Status close() override;

  Status recover(const SinkIdentity& identity, uint64_t restored_id, std::string_view state) override;
  Result<std::string> pre_commit(uint64_t id) override;
  Status commit(uint64_t id) override;

  TransactionTarget& target() { return *target_; }

 private:
  Status start_fresh(const SinkIdentity& identity);
  Status check_deleted_checkpoint_dir(const SinkIdentity& identity);
  std::string encode_state() const;
  struct DecodedState {
    CommitKey key;
    PreparedTransactions transactions;
  };
  Result<DecodedState> decode_state(std::string_view state, uint64_t restored_id);

  std::unique_ptr<TransactionTarget> target_;
  std::string context_;
  TransactionCommitter committer_;
  bool opened_ = false;
  bool written_ = false;  // write() was called: too late for recover()
  bool transactional_ = false;
  CommitKey key_;
  uint64_t last_id_ = 0;  // the newest checkpoint pre-committed or restored
};

// For targets that keep a transaction's rows in memory and in the checkpoint until its
// commit applies them (SQLite now; PostgreSQL and Redis later): the rows with their kinds,
// encoded with types/batch_serde.h.
class BufferedRowsTransaction : public PreparedTransaction {
 public:
  explicit BufferedRowsTransaction(RecordBatch rows) : rows_(std::move(rows)) {}
  void encode(ByteWriter& w) const override;
  static Result<std::unique_ptr<PreparedTransaction>> decode(ByteReader& r, const SchemaPtr& schema,
                                                             std::string_view context);
  const RecordBatch& rows() const { return rows_; }

 private:
  RecordBatch rows_;
};

// Appends the rows of `from` (and their kinds) to `to` (same schema; a column of `from` typed
// NULL, from a NULL literal, appends NULLs). For a buffering target's write().
Status append_buffered_rows(RecordBatch& to, const RecordBatch& from, std::string_view context);

// Reduces `rows` of an upsert table keyed by `key_columns` (not empty) to each key's last
// change: the rows to upsert (+I/+U) and the keys to delete (-D), each in input order; a -U
// row is superseded by its +U. Keys compare with IS semantics (NULL equals NULL). A batch
// applied this way ends with the table the rows applied one by one would leave.
void last_change_per_key(const RecordBatch& rows, const std::vector<int>& key_columns, std::vector<uint32_t>& upserts,
                         std::vector<uint32_t>& deletes);

// The first of `key_columns` that is NULL in row `row` of `rows`, or -1. A key with a NULL
// part is one key (IS semantics), but a unique index that lets NULLs repeat never makes
// ON CONFLICT fire for it, and some targets have no NULL at all (a Kafka message key).
int null_key_column(const RecordBatch& rows, size_t row, const std::vector<int>& key_columns);

// The writer side of a database target that buffers rows (SQLite, PostgreSQL): write()
// buffers them in memory with their kinds; in plain mode each flush hands the buffer to an
// applier thread (serial_worker.h: in order, at most two flushes queued, a failure returned
// by the next call) that applies it with apply_plain(), so a long apply does not stall the
// sink's task; in transactional mode prepare() turns the buffer into a
// BufferedRowsTransaction that travels in the checkpoint until commit() applies it. A
// derived class implements the database side: open/close, apply_plain(), commit(), the
// records. Its destructor and close() must call drain_applier() first: the applier uses the
// derived class's connection.
class BufferedRowsTarget : public TransactionTarget {
 public:
  BufferedRowsTarget(SchemaPtr schema, std::string context);

  Status write(const RecordBatch& batch) override;
  Status start_flush() override;
  Status flush() override;
  Result<std::unique_ptr<PreparedTransaction>> prepare(uint64_t id) override;
  Result<std::unique_ptr<PreparedTransaction>> decode_transaction(uint64_t id, ByteReader& r) override;
  // Rows written after the restored checkpoint were only in memory: dropped.
  Status abort_uncovered(uint64_t restored_id) override;

 protected:
  // Plain mode: applies `rows` in one database transaction (on the applier thread).
  virtual Status apply_plain(const RecordBatch& rows) = 0;
  // Refuses rows the target cannot hold (update rows for an append table), at write().
  virtual Status check_rows(const RecordBatch& batch) { return Status::ok(); }
  // Waits until the applier applied everything handed to it; its first failure.
  Status drain_applier() { return applier_.wait(); }
  void set_transactional() { transactional_ = true; }
  bool transactional() const { return transactional_; }
  // Drops the rows written since the last flush or prepare.
  void drop_buffered_rows() { open_rows_ = RecordBatch(schema_); }

  // Plain mode: rows buffered beyond this are handed to the applier at once.
  static constexpr size_t kMaxPlainRows = 65536;

 private:
  SchemaPtr schema_;
  std::string context_;
  bool transactional_ = false;
  RecordBatch open_rows_;  // written since the last prepare() (plain mode: the last flush)
  SerialWorker applier_;
};

}  // namespace sluice
