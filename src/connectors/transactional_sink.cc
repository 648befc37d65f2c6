#include "connectors/transactional_sink.h"

#include <algorithm>

#include "common/hash.h"
#include "common/logging.h"
#include "types/batch_serde.h"

namespace sluice {
namespace {

constexpr uint8_t kLegacyStateVersion = 1;  // no committer key
constexpr uint8_t kStateVersion = 2;

}  // namespace

// ---- TransactionCommitter ----

RetryPolicy default_commit_retry_policy() {
  RetryPolicy p;
  p.max_attempts = 6;
  p.initial_backoff_us = 100 * kMicrosPerMilli;
  p.max_backoff_us = 4 * kMicrosPerSecond;
  p.max_elapsed_us = 10 * kMicrosPerSecond;
  return p;
}

Status TransactionCommitter::commit_with_retry(const PreparedTransactions& due, uint64_t id, uint64_t skip_through) {
  // The target's errors name the sink already ("table out: sqlite ..."): no context here.
  return retry(policy_, fmt::format("commit of checkpoint {}", id),
               [&] { return target_.commit(due, id, skip_through); }, clock_);
}

Status TransactionCommitter::commit_through(uint64_t id) {
  auto end = pending_.upper_bound(id);
  if (end == pending_.begin()) return Status::ok();
  PreparedTransactions due;
  while (pending_.begin() != end) due.insert(pending_.extract(pending_.begin()));
  Status s = commit_with_retry(due, id, 0);
  if (!s.is_ok()) pending_.merge(due);  // still pending: a later commit or the recovery commits them
  return s;
}

Status TransactionCommitter::commit_restored(const PreparedTransactions& restored, uint64_t id,
                                             uint64_t skip_through) {
  return commit_with_retry(restored, id, skip_through);
}

// ---- TransactionalSinkWriter ----

TransactionalSinkWriter::TransactionalSinkWriter(std::unique_ptr<TransactionTarget> target, std::string context,
                                                 RetryPolicy commit_retry, RetryClock& clock)
    : target_(std::move(target)), context_(std::move(context)), committer_(*target_, commit_retry, clock) {}

TransactionalSinkWriter::~TransactionalSinkWriter() { (void)close(); }

Status TransactionalSinkWriter::open() {
  RETURN_IF_ERROR(target_->open());
  opened_ = true;
  return Status::ok();
}

Status TransactionalSinkWriter::write(const RecordBatch& batch) {
  if (!opened_) return internal_error("{}: sink written before open()", context_);
  written_ = true;
  return target_->write(batch);
}

Status TransactionalSinkWriter::flush() {
  if (!opened_ || transactional_) return Status::ok();  // transactional: rows become visible at commit()
  return target_->flush();
}

Status TransactionalSinkWriter::start_flush() {
  if (!opened_ || transactional_) return Status::ok();
  return target_->start_flush();
}

Status TransactionalSinkWriter::close() {
  if (!opened_) return Status::ok();
  opened_ = false;
  return target_->close();
}

Status TransactionalSinkWriter::recover(const SinkIdentity& identity, uint64_t restored_id, std::string_view state) {
  if (!opened_ || transactional_ || written_) {
    return internal_error("{}: sink recover() must follow open() and come once, before write()", context_);
  }
  key_ = CommitKey{identity.job_id, identity.sink_id};
  target_->set_checkpoint_dir(identity.checkpoint_dir);
  RETURN_IF_ERROR(target_->begin_transactions(key_));
  transactional_ = true;
  last_id_ = restored_id;
  if (restored_id == 0) return start_fresh(identity);
  ASSIGN_OR_RETURN(DecodedState restored, decode_state(state, restored_id));
  // Pre-committed by another job (this one started from its savepoint) or an older sluice:
  // what that committer recorded is not applied again.
  uint64_t skip_through = 0;
  if (!(restored.key == key_)) {
    ASSIGN_OR_RETURN(skip_through, target_->foreign_committed_id(restored.key));
  }
  // Output committed after the restored checkpoint (by a newer checkpoint, then lost or
  // passed over) goes first: the replay writes it again under new ids.
  RETURN_IF_ERROR(target_->roll_back(restored_id));
  // The crash came between checkpoint `restored_id` and its commit: commit now (idempotent).
  RETURN_IF_ERROR(committer_.commit_restored(restored.transactions, restored_id, skip_through));
  return target_->abort_uncovered(restored_id);
}

// A fresh start (no checkpoint to resume from). When this job committed before, its
// checkpoints were lost (corrupt or deleted) and a replay from the beginning would write that
// output again: refused unless --start-over rolls it back, or a replay cannot duplicate.
Status TransactionalSinkWriter::start_fresh(const SinkIdentity& identity) {
  RETURN_IF_ERROR(check_deleted_checkpoint_dir(identity));
  ASSIGN_OR_RETURN(uint64_t recorded, target_->committed_id(identity));
  if (recorded > 0) {
    if (target_->replay_is_idempotent()) {
      log_info("{}: {} holds checkpoint {} of this job, which starts from the beginning (no checkpoint to resume "
               "from): the replayed changes are applied again (an upsert target ends the same)",
               context_, target_->describe(), recorded);
    } else if (!identity.start_over) {
      return Status(
          StatusCode::kDataLoss,
          fmt::format("{}: {} holds the output this job (id {}) committed up to checkpoint {}, but no checkpoint of "
                      "the job can be resumed (corrupt or deleted), so a fresh start would write it again; restore "
                      "the checkpoint directory, or rerun with --start-over to roll that output back and start from "
                      "the beginning",
                      context_, target_->describe(), identity.job_id, recorded));
    } else {
      log_warn("{}: --start-over: rolling back the output this job committed into {} (up to checkpoint {})", context_,
               target_->describe(), recorded);
      RETURN_IF_ERROR(target_->roll_back(0));
    }
  }
  RETURN_IF_ERROR(target_->start_fresh(identity));
  return target_->abort_uncovered(0);
}

// Output committed by another job id from this job's checkpoint directory: the directory was
// deleted (or replaced) after that job committed, and its new job id cannot claim that
// output by key. Several jobs loading one table are told apart by their directories (each
// its own); one directory is one job. Refused unless --start-over, which adopts those
// records so that the fresh start below rolls the output back (or a replay cannot
// duplicate).
Status TransactionalSinkWriter::check_deleted_checkpoint_dir(const SinkIdentity& identity) {
  if (identity.checkpoint_dir.empty()) return Status::ok();
  ASSIGN_OR_RETURN(std::vector<EarlierJobCommit> earlier, target_->commits_from_directory(identity.checkpoint_dir));
  if (earlier.empty() || target_->replay_is_idempotent()) return Status::ok();
  std::string jobs;
  for (const auto& e : earlier) {
    jobs += fmt::format("{}job {} up to checkpoint {}", jobs.empty() ? "" : ", ",
                        e.key.job_id.empty() ? "(older sluice)" : e.key.job_id, e.checkpoint_id);
  }
  if (!identity.start_over) {
    return Status(StatusCode::kDataLoss,
                  fmt::format("{}: {} holds output committed from the checkpoint directory '{}' by another job id ({}), "
                              "but the directory now names job {}: it was deleted or replaced, so a fresh start would "
                              "write that output again; restore the checkpoint directory, or rerun with --start-over "
                              "to roll that output back and start from the beginning (another job loading the same "
                              "table needs a --checkpoint-dir of its own)",
                              context_, target_->describe(), identity.checkpoint_dir, jobs, identity.job_id));
  }
  log_warn("{}: --start-over: the checkpoint directory '{}' was deleted; taking over the output its earlier job "
           "committed into {} ({}) to roll it back",
           context_, identity.checkpoint_dir, target_->describe(), jobs);
  // Each sink instance takes over its own counterpart's (at another parallelism, the
  // instances this job lacks keep theirs).
  for (const auto& e : earlier) {
    if (e.key.sink_id == identity.sink_id) RETURN_IF_ERROR(target_->adopt_records(e.key));
  }
  return Status::ok();
}

Result<std::string> TransactionalSinkWriter::pre_commit(uint64_t id) {
  if (!transactional_) {  // without checkpoints: at-least-once
    RETURN_IF_ERROR(flush());
    return std::string();
  }
  if (id <= last_id_) return internal_error("{}: sink pre_commit({}) after checkpoint {}", context_, id, last_id_);
  last_id_ = id;
  ASSIGN_OR_RETURN(std::unique_ptr<PreparedTransaction> transaction, target_->prepare(id));
  if (transaction) committer_.add(id, std::move(transaction));
  return encode_state();
}

Status TransactionalSinkWriter::commit(uint64_t id) {
  if (!transactional_) return Status::ok();
  return committer_.commit_through(id);
}

std::string TransactionalSinkWriter::encode_state() const {
  std::string out;
  ByteWriter w(&out);
  w.u8(kStateVersion);
  w.str(key_.job_id);
  w.str(key_.sink_id);
  w.varint(committer_.pending().size());
  for (const auto& [id, transaction] : committer_.pending()) {
    w.varint(id);
    transaction->encode(w);
  }
  return out;
}

Result<TransactionalSinkWriter::DecodedState> TransactionalSinkWriter::decode_state(std::string_view state,
                                                                                    uint64_t restored_id) {
  DecodedState out;
  out.key = key_;
  if (state.empty()) return out;  // nothing was pending at the checkpoint
  ByteReader r(state);
  const uint8_t version = r.u8();
  if (version == kLegacyStateVersion) {
    out.key = target_->legacy_key();
  } else if (version == kStateVersion) {
    out.key.job_id = std::string(r.str());
    out.key.sink_id = std::string(r.str());
  } else {
    r.fail();
  }
  const uint64_t n = r.count(1);
  uint64_t previous = 0;
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    const uint64_t id = r.varint();
    // Ascending, and none newer than the checkpoint that lists it.
    if (!r.ok() || id <= previous || id > restored_id) {
      r.fail();
      break;
    }
    previous = id;
    ASSIGN_OR_RETURN(std::unique_ptr<PreparedTransaction> transaction, target_->decode_transaction(id, r));
    if (!r.ok()) break;
    out.transactions.emplace(id, std::move(transaction));
  }
  if (r.ok() && !r.at_end()) r.fail();
  RETURN_IF_ERROR(r.status("sink state").with_context(context_));
  return out;
}

// ---- Buffered rows ----

void BufferedRowsTransaction::encode(ByteWriter& w) const { write_batch(w, rows_); }

Result<std::unique_ptr<PreparedTransaction>> BufferedRowsTransaction::decode(ByteReader& r, const SchemaPtr& schema,
                                                                             std::string_view context) {
  auto rows = read_batch(r, schema);
  if (!rows.is_ok()) return rows.status().with_context(fmt::format("{}: sink state", context));
  return std::unique_ptr<PreparedTransaction>(std::make_unique<BufferedRowsTransaction>(std::move(*rows.value())));
}

Status append_buffered_rows(RecordBatch& to, const RecordBatch& from, std::string_view context) {
  if (from.columns.size() != to.columns.size()) {
    return internal_error("{}: sink got {} columns, expected {}", context, from.columns.size(), to.columns.size());
  }
  for (size_t c = 0; c < from.columns.size(); ++c) {
    Column& into = to.mutable_column(c);
    const Column& col = from.column(c);
    if (col.type() == into.type()) {
      into.append_all(col);
      continue;
    }
    for (size_t r = 0; r < from.num_rows; ++r) {  // a NULL-typed column (a NULL literal)
      if (!col.is_null(r)) {
        return internal_error("{}: sink column {} is {}, got {}", context, c, type_name(into.type()),
                              type_name(col.type()));
      }
      into.append_null();
    }
  }
  for (size_t r = 0; r < from.num_rows; ++r) to.row_kinds.push_back(from.row_kind(r));
  to.num_rows += from.num_rows;
  return Status::ok();
}

// ---- Last change per key ----

void last_change_per_key(const RecordBatch& rows, const std::vector<int>& key_columns, std::vector<uint32_t>& upserts,
                         std::vector<uint32_t>& deletes) {
  upserts.clear();
  deletes.clear();
  const size_t n = rows.num_rows;
  if (n == 0) return;
  // An open-addressing table of row indices keyed by the rows' key hashes, compared column
  // by column on a hash match: no key bytes are copied and nothing is allocated per row (the
  // buffers are reused across batches of the calling thread).
  thread_local std::vector<uint64_t> hashes;
  thread_local std::vector<int32_t> slots;
  hashes.assign(n, 0);
  for (int c : key_columns) {
    const Column& col = rows.column(static_cast<size_t>(c));
    for (size_t r = 0; r < n; ++r) hashes[r] = hash_combine(hashes[r], col.hash_row(r));
  }
  size_t capacity = 16;
  while (capacity < 2 * n) capacity <<= 1;
  const size_t mask = capacity - 1;
  slots.assign(capacity, -1);
  auto same_key = [&](size_t a, size_t b) {
    if (hashes[a] != hashes[b]) return false;
    for (int c : key_columns) {
      const Column& col = rows.column(static_cast<size_t>(c));
      if (!col.equals(a, col, b)) return false;
    }
    return true;
  };
  for (size_t r = 0; r < n; ++r) {
    if (rows.row_kind(r) == RowKind::kUpdateBefore) continue;
    for (size_t i = hashes[r] & mask;; i = (i + 1) & mask) {
      if (slots[i] < 0 || same_key(static_cast<size_t>(slots[i]), r)) {
        slots[i] = static_cast<int32_t>(r);  // a later change of a key replaces the earlier
        break;
      }
    }
  }
  for (int32_t r : slots) {
    if (r >= 0) (rows.row_kind(static_cast<size_t>(r)) == RowKind::kDelete ? deletes : upserts).push_back(static_cast<uint32_t>(r));
  }
  std::sort(upserts.begin(), upserts.end());
  std::sort(deletes.begin(), deletes.end());
}

int null_key_column(const RecordBatch& rows, size_t row, const std::vector<int>& key_columns) {
  for (int k : key_columns) {
    if (rows.column(static_cast<size_t>(k)).is_null(row)) return k;
  }
  return -1;
}

// ---- BufferedRowsTarget ----

BufferedRowsTarget::BufferedRowsTarget(SchemaPtr schema, std::string context)
    : schema_(std::move(schema)), context_(std::move(context)), open_rows_(schema_) {}

Status BufferedRowsTarget::write(const RecordBatch& batch) {
  if (!transactional_) RETURN_IF_ERROR(applier_.status());  // an earlier flush failed
  RETURN_IF_ERROR(check_rows(batch));
  RETURN_IF_ERROR(append_buffered_rows(open_rows_, batch, context_));
  if (!transactional_ && open_rows_.num_rows >= kMaxPlainRows) return start_flush();
  return Status::ok();
}

// Applying on the sink's operator thread stalled its whole task for the length of a flush
// (tens of thousands of upserts) while its input channel filled: the clickstream job ran
// 36% longer than when rows were applied as they came.
Status BufferedRowsTarget::start_flush() {
  if (transactional_) return Status::ok();
  if (open_rows_.num_rows == 0) return applier_.status();
  auto rows = std::make_shared<RecordBatch>(std::move(open_rows_));
  open_rows_ = RecordBatch(schema_);
  return applier_.submit([this, rows] { return apply_plain(*rows); });
}

Status BufferedRowsTarget::flush() {
  RETURN_IF_ERROR(start_flush());
  return applier_.wait();
}

Result<std::unique_ptr<PreparedTransaction>> BufferedRowsTarget::prepare(uint64_t) {
  if (open_rows_.num_rows == 0) return std::unique_ptr<PreparedTransaction>();
  auto transaction = std::make_unique<BufferedRowsTransaction>(std::move(open_rows_));
  open_rows_ = RecordBatch(schema_);
  return std::unique_ptr<PreparedTransaction>(std::move(transaction));
}

Result<std::unique_ptr<PreparedTransaction>> BufferedRowsTarget::decode_transaction(uint64_t, ByteReader& r) {
  return BufferedRowsTransaction::decode(r, schema_, context_);
}

Status BufferedRowsTarget::abort_uncovered(uint64_t) {
  open_rows_ = RecordBatch(schema_);
  return Status::ok();
}

}  // namespace sluice
