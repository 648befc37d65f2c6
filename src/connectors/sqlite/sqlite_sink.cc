#include "connectors/sqlite/sqlite_sink.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "common/serde.h"
#include "connectors/connector_util.h"
#include "connectors/transactional_sink.h"
#include "types/batch_serde.h"
#include "types/record_batch.h"

namespace sluice {
namespace {

// Undo entries kept per append sink (the newest checkpoints'); see sqlite_sink.h.
std::atomic<size_t> g_undo_retention{kSqliteUndoRetention};

// TableKey: upsert, key, value and all columns (connector_util.h).
struct SqliteSinkConfig : TableKey {
  std::string context;  // "table per_page"
  std::string path;
  std::string table;    // SQLite table name
  SchemaPtr schema;
};

std::string quote_ident(std::string_view name) { return quote_sql_identifier(name); }

// Several writers of one database (sink.parallelism, or several jobs) take turns on its
// write lock. SQLite's own busy timeout sleeps in growing steps up to 100 ms, so a writer
// often slept long after the lock was free (4 writers took 58 s for 5,000 upserts in
// 7-row batches); this handler polls every millisecond, for up to about 5 s like before.
void wait_when_busy(sqlite3* db) {
  sqlite3_busy_handler(
      db,
      [](void*, int attempts) -> int {
        if (attempts >= 5000) return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return 1;
      },
      nullptr);
}

const char* sqlite_column_type(TypeId t) {
  switch (t) {
    case TypeId::kFloat64: return "REAL";
    case TypeId::kString:
    case TypeId::kTimestamp: return "TEXT";
    default: return "INTEGER";
  }
}

// "a, b" from the named schema columns, each as `prefix + quoted name + suffix`.
std::string column_list(const SqliteSinkConfig& c, const std::vector<int>& cols, std::string_view sep,
                        const std::function<std::string(const std::string&)>& item) {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (i) out += sep;
    out += item(quote_ident(c.schema->field(static_cast<size_t>(cols[i])).name));
  }
  return out;
}

std::string placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

// Who commits (sink.h SinkIdentity): the job id and the sink instance. The records of an
// older sluice, keyed by table name only, are migrated to job id '' and sink id
// 'table:<name>' (legacy_commit_key()).
CommitKey legacy_commit_key(const std::string& table) { return {"", "table:" + table}; }

// One connection with the sink's statements prepared. Used by the writer, and read-only by
// the factory to check an existing table before the job starts.
class SqliteTarget {
 public:
  SqliteTarget(const SqliteTarget&) = delete;
  SqliteTarget& operator=(const SqliteTarget&) = delete;
  ~SqliteTarget() { (void)close(); }

  // Opens the database; creates the table unless `probe` (read-only check); verifies
  // its columns and prepares the statements.
  static Result<std::unique_ptr<SqliteTarget>> open(const SqliteSinkConfig& config, bool probe) {
    std::unique_ptr<SqliteTarget> t(new SqliteTarget(config));
    int flags = probe ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(config.path.c_str(), &t->db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      return t->error("cannot open database");
    }
    wait_when_busy(t->db_);
    if (!probe) {
      // Switching a database to WAL takes an exclusive lock without calling the busy
      // handler: when several sinks open the same file at once, the loser gets SQLITE_BUSY
      // at once. Retry like the busy timeout would (once in WAL mode the pragma is a no-op).
      for (int attempt = 0;; ++attempt) {
        int rc = sqlite3_exec(t->db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) break;
        if ((rc & 0xff) != SQLITE_BUSY || attempt >= 500) return t->error("cannot switch to WAL journal mode");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      RETURN_IF_ERROR(t->exec("PRAGMA synchronous=NORMAL"));
    }
    Result<std::vector<std::string>> columns = t->existing_columns();
    if (!columns.is_ok() && probe && (sqlite3_extended_errcode(t->db_) & 0xff) == SQLITE_READONLY) {
      // A writer killed mid-run leaves a WAL index that must be rebuilt, which a read-only
      // connection cannot do (SQLITE_READONLY_RECOVERY / _CANTINIT): probe again read-write.
      // The database exists (its WAL is there), so nothing is created.
      sqlite3_close(t->db_);
      t->db_ = nullptr;
      if (sqlite3_open_v2(config.path.c_str(), &t->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
          SQLITE_OK) {
        return t->error("cannot open database");
      }
      wait_when_busy(t->db_);
      columns = t->existing_columns();
    }
    RETURN_IF_ERROR(columns.status());
    std::vector<std::string> existing = std::move(columns).value();
    if (existing.empty()) {
      if (probe) return t;  // the writer will create it
      RETURN_IF_ERROR(t->exec(t->create_table_sql()));
    } else {
      RETURN_IF_ERROR(t->check_columns(existing));
    }
    RETURN_IF_ERROR(t->prepare_statements());
    t->has_rowid_ = t->detect_rowid(existing);
    ASSIGN_OR_RETURN(t->rowid_key_, t->key_is_rowid());
    return t;
  }

  // Whether the table has a rowid that names its rows (not a WITHOUT ROWID table, and no
  // column called rowid hiding it): undo entries of an append table need it.
  bool has_rowid() const { return has_rowid_; }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

  // `immediate`: take the write lock now (a read-then-write transaction).
  Status begin(bool immediate = false) {
    if (in_transaction_) return Status::ok();
    RETURN_IF_ERROR(exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN"));
    in_transaction_ = true;
    return Status::ok();
  }
  Status commit() {
    if (!in_transaction_) return Status::ok();
    in_transaction_ = false;
    Status s = exec("COMMIT");
    if (!s.is_ok()) {
      // A COMMIT that fails (SQLITE_BUSY) leaves the transaction open: end it, so that a
      // retry begins a new one.
      if (sqlite3_get_autocommit(db_) == 0) (void)exec("ROLLBACK");
      return s;
    }
    return check_not_moved();
  }

  // SQLite goes on writing into a database file that was deleted or replaced (its open
  // file descriptor): every later commit would be lost silently. Checked after each commit.
  Status check_not_moved() {
    int moved = 0;
    if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved == 0) {
      return Status::ok();
    }
    return io_error(
        "{}: sqlite database '{}' was deleted or replaced while the job wrote it: the rows committed went to a file "
        "that is no longer there; rerun the job (and do not delete or move its output while it runs)",
        c_.context, c_.path);
  }
  void rollback() {
    if (in_transaction_) (void)exec("ROLLBACK");
    in_transaction_ = false;
  }

  // Applies row `row` of `batch` according to its RowKind.
  Status apply(const RecordBatch& batch, size_t row) {
    RowKind kind = batch.row_kind(row);
    if (!c_.upsert) {
      if (kind != RowKind::kInsert) {
        return invalid_argument(
            "{}: sqlite table '{}' is append-only but received a {} row; set primary_key to keep it up to date",
            c_.context, c_.table, row_kind_short_name(kind));
      }
      return run(insert_, batch, row, c_.all_columns);
    }
    if (kind == RowKind::kUpdateBefore) return Status::ok();  // superseded by the +U that follows
    if (c_.key_columns.empty()) {                             // one global row
      RETURN_IF_ERROR(run(delete_, batch, row, {}));
      return kind == RowKind::kDelete ? Status::ok() : run(insert_, batch, row, c_.all_columns);
    }
    if (kind == RowKind::kDelete) return run(delete_, batch, row, c_.key_columns);
    // Keys compare with IS semantics (NULL equals NULL; sink.h). A primary key lets several
    // rows hold NULL in it, so ON CONFLICT never fires for such a key: the row replaces its
    // key's rows explicitly (the DELETE matches with IS). Rows without a NULL key, the
    // usual case, keep the one-statement upsert.
    if (const int k = null_key_column(batch, row, c_.key_columns); k >= 0) {
      if (rowid_key_) {
        return invalid_argument(
            "{}: sqlite table '{}': key column {} is the table's INTEGER PRIMARY KEY (its rowid), which turns a NULL "
            "key into a new row number; declare the column BIGINT (or let sluice create the table)",
            c_.context, c_.table, c_.schema->field(static_cast<size_t>(k)).name);
      }
      RETURN_IF_ERROR(run(delete_, batch, row, c_.key_columns));
    }
    return run(insert_, batch, row, c_.all_columns);
  }

  // Transactional mode: commits survive power loss (they are not replayed from a checkpoint
  // once recorded), and the bookkeeping tables exist in the current layout (an older
  // layout keyed by table name is migrated: see sqlite_sink.h). `key`: who commits.
  Status prepare_transactions(CommitKey key, std::string checkpoint_dir) {
    key_ = std::move(key);
    checkpoint_dir_ = std::move(checkpoint_dir);
    RETURN_IF_ERROR(exec("PRAGMA synchronous=FULL"));
    RETURN_IF_ERROR(begin(/*immediate=*/true));  // another sink may create or migrate at once
    Status s = create_bookkeeping();
    if (!s.is_ok()) {
      rollback();
      return s;
    }
    return commit();
  }
  const CommitKey& key() const { return key_; }

  // Records the rowids first..last as the rows transaction `id` inserted; no range: its rows
  // cannot be rolled back (NULLs). Within the caller's transaction.
  Status record_undo(uint64_t id, std::optional<std::pair<int64_t, int64_t>> range) {
    Statement st(this);
    RETURN_IF_ERROR(st.prepare(
        "INSERT OR REPLACE INTO _sluice_undo (job_id, sink_id, checkpoint_id, first_rowid, last_rowid) "
        "VALUES (?1, ?2, ?3, ?4, ?5)"));
    st.bind_key(1, key_);
    sqlite3_bind_int64(st.get(), 3, static_cast<int64_t>(id));
    if (range) {
      sqlite3_bind_int64(st.get(), 4, range->first);
      sqlite3_bind_int64(st.get(), 5, range->second);
    }
    return st.run("writing _sluice_undo failed");
  }

  // Keeps the undo entries of the newest `keep` checkpoints; the older ones are replaced by
  // one entry without a range at the newest pruned id, so that a rollback past it knows that
  // rows may be left behind. Within the caller's transaction.
  Status prune_undo(size_t keep) {
    Statement find(this);
    RETURN_IF_ERROR(find.prepare(
        "SELECT checkpoint_id FROM _sluice_undo WHERE job_id = ?1 AND sink_id = ?2 ORDER BY checkpoint_id DESC "
        "LIMIT 1 OFFSET ?3"));
    find.bind_key(1, key_);
    sqlite3_bind_int64(find.get(), 3, static_cast<int64_t>(keep));
    int rc = sqlite3_step(find.get());
    if (rc == SQLITE_DONE) return Status::ok();  // at most `keep` entries
    if (rc != SQLITE_ROW) return error("reading _sluice_undo failed");
    const int64_t cutoff = sqlite3_column_int64(find.get(), 0);
    Statement del(this);
    RETURN_IF_ERROR(
        del.prepare("DELETE FROM _sluice_undo WHERE job_id = ?1 AND sink_id = ?2 AND checkpoint_id <= ?3"));
    del.bind_key(1, key_);
    sqlite3_bind_int64(del.get(), 3, cutoff);
    RETURN_IF_ERROR(del.run("pruning _sluice_undo failed"));
    return record_undo(static_cast<uint64_t>(cutoff), std::nullopt);
  }

  struct Rollback {
    size_t checkpoints = 0;              // undo entries with a range applied
    int64_t rows = 0;                    // rows deleted
    std::vector<uint64_t> unrecoverable;  // entries without a range: rows may repeat
  };
  // Deletes the rows of every undo entry newer than `id`, and those entries. Within the
  // caller's transaction.
  Result<Rollback> roll_back_undo(uint64_t id) {
    Rollback out;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    {
      Statement st(this);
      RETURN_IF_ERROR(st.prepare(
          "SELECT checkpoint_id, first_rowid, last_rowid FROM _sluice_undo WHERE job_id = ?1 AND sink_id = ?2 "
          "AND checkpoint_id > ?3 ORDER BY checkpoint_id"));
      st.bind_key(1, key_);
      sqlite3_bind_int64(st.get(), 3, static_cast<int64_t>(id));
      int rc;
      while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
        if (sqlite3_column_type(st.get(), 1) == SQLITE_NULL || sqlite3_column_type(st.get(), 2) == SQLITE_NULL) {
          out.unrecoverable.push_back(static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0)));
        } else {
          ranges.emplace_back(sqlite3_column_int64(st.get(), 1), sqlite3_column_int64(st.get(), 2));
        }
      }
      if (rc != SQLITE_DONE) return error("reading _sluice_undo failed");
    }
    if (!ranges.empty()) {
      Statement del(this);
      RETURN_IF_ERROR(del.prepare(fmt::format("DELETE FROM {} WHERE rowid BETWEEN ?1 AND ?2", quote_ident(c_.table))));
      for (const auto& [first, last] : ranges) {
        sqlite3_bind_int64(del.get(), 1, first);
        sqlite3_bind_int64(del.get(), 2, last);
        RETURN_IF_ERROR(del.run("rolling back rows failed"));
        out.rows += sqlite3_changes(db_);
        ++out.checkpoints;
      }
    }
    RETURN_IF_ERROR(forget_undo(id));
    return out;
  }

  // Deletes the sink's undo entries newer than `id` (0: all of them, a fresh start).
  Status forget_undo(uint64_t id) {
    Statement st(this);
    RETURN_IF_ERROR(st.prepare("DELETE FROM _sluice_undo WHERE job_id = ?1 AND sink_id = ?2 AND checkpoint_id > ?3"));
    st.bind_key(1, key_);
    sqlite3_bind_int64(st.get(), 3, static_cast<int64_t>(id));
    return st.run("writing _sluice_undo failed");
  }

  // The newest checkpoint `key` committed into this database (0: none; default: this sink).
  Result<uint64_t> committed_checkpoint(const CommitKey* key = nullptr) {
    Statement st(this);
    RETURN_IF_ERROR(st.prepare("SELECT checkpoint_id FROM _sluice_commits WHERE job_id = ?1 AND sink_id = ?2"));
    st.bind_key(1, key != nullptr ? *key : key_);
    int rc = sqlite3_step(st.get());
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st.get(), 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error("reading _sluice_commits failed");
    return static_cast<uint64_t>(id < 0 ? 0 : id);
  }

  // Records checkpoint `id` as committed by this sink (id 0: forgets its row, a fresh start).
  Status record_checkpoint(uint64_t id) {
    Statement st(this);
    if (id == 0) {
      RETURN_IF_ERROR(st.prepare("DELETE FROM _sluice_commits WHERE job_id = ?1 AND sink_id = ?2"));
    } else {
      RETURN_IF_ERROR(
          st.prepare("INSERT OR REPLACE INTO _sluice_commits (job_id, sink_id, table_name, checkpoint_id, "
                     "checkpoint_dir) VALUES (?1, ?2, ?3, ?4, ?5)"));
      sqlite3_bind_text(st.get(), 3, c_.table.data(), static_cast<int>(c_.table.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st.get(), 4, static_cast<int64_t>(id));
      sqlite3_bind_text(st.get(), 5, checkpoint_dir_.data(), static_cast<int>(checkpoint_dir_.size()), SQLITE_STATIC);
    }
    st.bind_key(1, key_);
    return st.run("writing _sluice_commits failed");
  }

  // The records an older sluice kept for this table (keyed by table name; migrated by
  // create_bookkeeping()) become this sink's: that job is resuming under the new layout.
  // Within the caller's transaction; false when there was none.
  Result<bool> adopt_legacy_record() {
    const CommitKey legacy = legacy_commit_key(c_.table);
    ASSIGN_OR_RETURN(uint64_t recorded, committed_checkpoint(&legacy));
    if (recorded == 0) return false;
    RETURN_IF_ERROR(adopt_records(legacy));
    return true;
  }

  // The commit record and undo entries of `other` become this sink's (which has none).
  // Within the caller's transaction.
  Status adopt_records(const CommitKey& other) {
    for (const char* table : {"_sluice_commits", "_sluice_undo"}) {
      Statement st(this);
      RETURN_IF_ERROR(st.prepare(
          fmt::format("UPDATE {} SET job_id = ?1, sink_id = ?2 WHERE job_id = ?3 AND sink_id = ?4", table)));
      st.bind_key(1, key_);
      st.bind_key(3, other);
      RETURN_IF_ERROR(st.run("adopting the records of another job failed"));
    }
    return Status::ok();
  }

  // Other job ids' commit records for this sink or table made from the checkpoint directory
  // `dir` (TransactionTarget::commits_from_directory()).
  Result<std::vector<EarlierJobCommit>> commits_from_directory(const std::string& dir) {
    Statement st(this);
    RETURN_IF_ERROR(
        st.prepare("SELECT job_id, sink_id, checkpoint_id FROM _sluice_commits WHERE checkpoint_dir = ?1 AND "
                   "job_id <> ?2 AND (sink_id = ?3 OR table_name = ?4) AND checkpoint_id > 0 ORDER BY job_id, sink_id"));
    sqlite3_bind_text(st.get(), 1, dir.data(), static_cast<int>(dir.size()), SQLITE_TRANSIENT);
    st.bind_key(2, key_);
    sqlite3_bind_text(st.get(), 4, c_.table.data(), static_cast<int>(c_.table.size()), SQLITE_STATIC);
    std::vector<EarlierJobCommit> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      auto text = [&](int col) {
        const auto* v = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), col));
        return std::string(v != nullptr ? v : "");
      };
      out.push_back({CommitKey{text(0), text(1)}, static_cast<uint64_t>(sqlite3_column_int64(st.get(), 2))});
    }
    if (rc != SQLITE_DONE) return error("reading _sluice_commits failed");
    return out;
  }

  // Removes the records of an older sluice for this table (a fresh start forgets them, as it
  // did then). Within the caller's transaction.
  Status forget_legacy_record() {
    const CommitKey legacy = legacy_commit_key(c_.table);
    for (const char* table : {"_sluice_commits", "_sluice_undo"}) {
      Statement st(this);
      RETURN_IF_ERROR(st.prepare(fmt::format("DELETE FROM {} WHERE job_id = ?1 AND sink_id = ?2", table)));
      st.bind_key(1, legacy);
      RETURN_IF_ERROR(st.run("forgetting the records of an older sluice failed"));
    }
    return Status::ok();
  }

  // Other jobs' commit records for the same sink or the same table ("job <id> up to
  // checkpoint <n>"), for the warning of a fresh start (sqlite_sink.h).
  Result<std::vector<std::string>> other_jobs_records() {
    Statement st(this);
    RETURN_IF_ERROR(st.prepare(
        "SELECT job_id, checkpoint_id FROM _sluice_commits WHERE job_id <> ?1 AND (sink_id = ?2 OR table_name = ?3) "
        "ORDER BY job_id"));
    st.bind_key(1, key_);
    sqlite3_bind_text(st.get(), 3, c_.table.data(), static_cast<int>(c_.table.size()), SQLITE_STATIC);
    std::vector<std::string> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      const auto* job = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0));
      out.push_back(fmt::format("job {} up to checkpoint {}", job != nullptr && *job ? job : "(older sluice)",
                                sqlite3_column_int64(st.get(), 1)));
    }
    if (rc != SQLITE_DONE) return error("reading _sluice_commits failed");
    return out;
  }

  // Drops the statements' references to batch memory (bound with SQLITE_STATIC).
  void clear_bindings() {
    for (sqlite3_stmt* s : {insert_, delete_}) {
      if (s != nullptr) sqlite3_clear_bindings(s);
    }
  }

  Status close() {
    Status s = commit();
    for (sqlite3_stmt** st : {&insert_, &delete_}) {
      sqlite3_finalize(*st);
      *st = nullptr;
    }
    if (db_ != nullptr && sqlite3_close(db_) != SQLITE_OK && s.is_ok()) s = error("closing failed");
    db_ = nullptr;
    return s;
  }

 private:
  explicit SqliteTarget(const SqliteSinkConfig& config)
      : c_(config), scratch_(config.schema->size()) {}

  // A statement prepared for one use, finalized when it goes out of scope; run() steps it
  // once and resets it (it can be bound and run again).
  class Statement {
   public:
    explicit Statement(SqliteTarget* t) : t_(t) {}
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() { sqlite3_finalize(st_); }
    Status prepare(const std::string& sql) {
      if (sqlite3_prepare_v2(t_->db_, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK) {
        return t_->error(fmt::format("preparing '{}' failed", sql));
      }
      return Status::ok();
    }
    // Binds the key's job id and sink id to parameters `param` and `param + 1`.
    void bind_key(int param, const CommitKey& key) {
      sqlite3_bind_text(st_, param, key.job_id.data(), static_cast<int>(key.job_id.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(st_, param + 1, key.sink_id.data(), static_cast<int>(key.sink_id.size()), SQLITE_TRANSIENT);
    }
    Status run(std::string_view what) {
      int rc = sqlite3_step(st_);
      sqlite3_reset(st_);
      if (rc != SQLITE_DONE && rc != SQLITE_ROW) return t_->error(what);
      return Status::ok();
    }
    sqlite3_stmt* get() const { return st_; }

   private:
    SqliteTarget* t_;
    sqlite3_stmt* st_ = nullptr;
  };

  // Whether the table's primary key is one column declared exactly INTEGER: an alias of the
  // rowid, where a NULL key cannot be stored (SQLite assigns a row number instead).
  Result<bool> key_is_rowid() {
    if (!c_.upsert || c_.key_columns.size() != 1) return false;
    Statement st(this);
    RETURN_IF_ERROR(st.prepare("SELECT type FROM pragma_table_info(?1) WHERE pk > 0"));
    sqlite3_bind_text(st.get(), 1, c_.table.data(), static_cast<int>(c_.table.size()), SQLITE_STATIC);
    int pk_columns = 0;
    bool integer = false;
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      ++pk_columns;
      const unsigned char* type = sqlite3_column_text(st.get(), 0);
      integer = type != nullptr && iequals(reinterpret_cast<const char*>(type), "INTEGER");
    }
    return pk_columns == 1 && integer;
  }

  bool detect_rowid(const std::vector<std::string>& existing) {
    for (const auto& name : existing) {
      if (iequals(name, "rowid")) return false;
    }
    Statement probe(this);
    return probe.prepare(fmt::format("SELECT rowid FROM {} LIMIT 0", quote_ident(c_.table))).is_ok();
  }

  // A database locked by another writer (after the busy timeout) is transient: the
  // committer retries it (retry.h). Anything else is an I/O error.
  static StatusCode status_code_of(int rc) {
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? StatusCode::kUnavailable : StatusCode::kIoError;
  }

  Status error(std::string_view what) const {
    return Status(status_code_of(db_ != nullptr ? sqlite3_extended_errcode(db_) : SQLITE_NOMEM),
                  fmt::format("{}: sqlite '{}' table '{}': {}: {}", c_.context, c_.path, c_.table, what,
                              db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory"));
  }

  Status exec(const std::string& sql) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
      std::string m = msg != nullptr ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      return Status(status_code_of(rc), fmt::format("{}: sqlite '{}' table '{}': {}", c_.context, c_.path, c_.table, m));
    }
    return Status::ok();
  }

  // Creates _sluice_commits and _sluice_undo, migrating the layout of an older sluice
  // (keyed by `sink` = table name) in place: its rows get job id '' (legacy_commit_key()). Within
  // the caller's transaction.
  Status create_bookkeeping() {
    struct Table {
      const char* name;
      const char* create;
      const char* copy_legacy;  // from <name>_v1
    };
    const Table tables[] = {
        {"_sluice_commits",
         "CREATE TABLE IF NOT EXISTS _sluice_commits (job_id TEXT NOT NULL, sink_id TEXT NOT NULL, table_name TEXT "
         "NOT NULL, checkpoint_id INTEGER NOT NULL, checkpoint_dir TEXT NOT NULL DEFAULT '', PRIMARY KEY (job_id, "
         "sink_id))",
         "INSERT INTO _sluice_commits (job_id, sink_id, table_name, checkpoint_id) SELECT '', 'table:' || sink, sink, "
         "checkpoint_id FROM _sluice_commits_v1"},
        {"_sluice_undo",
         "CREATE TABLE IF NOT EXISTS _sluice_undo (job_id TEXT NOT NULL, sink_id TEXT NOT NULL, checkpoint_id INTEGER "
         "NOT NULL, first_rowid INTEGER, last_rowid INTEGER, PRIMARY KEY (job_id, sink_id, checkpoint_id))",
         "INSERT INTO _sluice_undo (job_id, sink_id, checkpoint_id, first_rowid, last_rowid) SELECT '', 'table:' || "
         "sink, checkpoint_id, first_rowid, last_rowid FROM _sluice_undo_v1"},
    };
    for (const Table& t : tables) {
      ASSIGN_OR_RETURN(std::vector<std::string> columns, columns_of(t.name));
      const bool legacy = std::any_of(columns.begin(), columns.end(), [](const auto& c) { return c == "sink"; });
      if (legacy) RETURN_IF_ERROR(exec(fmt::format("ALTER TABLE {0} RENAME TO {0}_v1", t.name)));
      RETURN_IF_ERROR(exec(t.create));
      // Added later: the checkpoint directory a commit was made from (empty in older rows).
      if (std::string_view(t.name) == "_sluice_commits" && !legacy && !columns.empty() &&
          std::find(columns.begin(), columns.end(), "checkpoint_dir") == columns.end()) {
        RETURN_IF_ERROR(exec("ALTER TABLE _sluice_commits ADD COLUMN checkpoint_dir TEXT NOT NULL DEFAULT ''"));
      }
      if (!legacy) continue;
      RETURN_IF_ERROR(exec(t.copy_legacy));
      RETURN_IF_ERROR(exec(fmt::format("DROP TABLE {}_v1", t.name)));
      log_info("{}: sqlite '{}': migrated {} from the layout of an older sluice (keyed by table name)", c_.context,
               c_.path, t.name);
    }
    return Status::ok();
  }

  // Column names of the existing table; empty when there is no such table.
  Result<std::vector<std::string>> existing_columns() { return columns_of(c_.table); }

  Result<std::vector<std::string>> columns_of(const std::string& table) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT name FROM pragma_table_info(?1)", -1, &st, nullptr) != SQLITE_OK) {
      return error("reading the table's columns failed");
    }
    sqlite3_bind_text(st, 1, table.data(), static_cast<int>(table.size()), SQLITE_STATIC);
    std::vector<std::string> names;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return error("reading the table's columns failed");
    return names;
  }

  Status check_columns(const std::vector<std::string>& existing) const {
    for (const auto& f : c_.schema->fields()) {
      bool found = false;
      for (const auto& e : existing) found = found || iequals(e, f.name);
      if (!found) {
        return invalid_argument("{}: existing sqlite table '{}' in '{}' has no column '{}'", c_.context, c_.table,
                                c_.path, f.name);
      }
    }
    return Status::ok();
  }

  std::string create_table_sql() const {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + quote_ident(c_.table) + " (";
    for (size_t i = 0; i < c_.schema->size(); ++i) {
      const Field& f = c_.schema->field(i);
      if (i) sql += ", ";
      std::string type = sqlite_column_type(f.type);
      // A one-column PRIMARY KEY declared exactly INTEGER is the rowid: a NULL key would be
      // given a new row number, so every update of the NULL key added a row. BIGINT has
      // the same (integer) affinity without being the rowid.
      const bool key = std::find(c_.key_columns.begin(), c_.key_columns.end(), static_cast<int>(i)) !=
                       c_.key_columns.end();
      if (key && type == "INTEGER") type = "BIGINT";
      sql += quote_ident(f.name) + " " + type;
    }
    if (!c_.key_columns.empty()) {
      sql += ", PRIMARY KEY (" + column_list(c_, c_.key_columns, ", ", [](const std::string& n) { return n; }) + ")";
    }
    return sql + ")";
  }

  Status prepare(const std::string& sql, sqlite3_stmt** st) {
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, st, nullptr) != SQLITE_OK) {
      return error(fmt::format("preparing '{}' failed", sql));
    }
    return Status::ok();
  }

  Status prepare_statements() {
    const std::string table = quote_ident(c_.table);
    auto same = [](const std::string& n) { return n; };
    std::string insert = "INSERT INTO " + table + " (" + column_list(c_, c_.all_columns, ", ", same) +
                         ") VALUES (" + placeholders(c_.all_columns.size()) + ")";
    if (c_.upsert && !c_.key_columns.empty()) {
      insert += " ON CONFLICT (" + column_list(c_, c_.key_columns, ", ", same) + ") DO ";
      if (c_.value_columns.empty()) {
        insert += "NOTHING";
      } else {
        insert += "UPDATE SET " + column_list(c_, c_.value_columns, ", ", [](const std::string& n) {
          return n + " = excluded." + n;
        });
      }
      RETURN_IF_ERROR(prepare("DELETE FROM " + table + " WHERE " +
                                  column_list(c_, c_.key_columns, " AND ",
                                              [](const std::string& n) { return n + " IS ?"; }),
                              &delete_));
    } else if (c_.upsert) {
      RETURN_IF_ERROR(prepare("DELETE FROM " + table, &delete_));
    }
    return prepare(insert, &insert_);
  }

  // Binds columns `cols` of the row to parameters 1..n, runs the statement and resets it.
  Status run(sqlite3_stmt* st, const RecordBatch& batch, size_t row, const std::vector<int>& cols) {
    for (size_t i = 0; i < cols.size(); ++i) {
      const int param = static_cast<int>(i) + 1;
      const size_t c = static_cast<size_t>(cols[i]);
      const Column& col = batch.column(c);
      if (col.is_null(row)) {
        sqlite3_bind_null(st, param);
        continue;
      }
      switch (col.type()) {
        case TypeId::kFloat64: sqlite3_bind_double(st, param, col.double_at(row)); break;
        case TypeId::kString: {
          std::string_view s = col.string_at(row);
          // STATIC: the batch outlives this statement's use of it; clear_bindings() drops
          // the pointer when write() returns.
          sqlite3_bind_text(st, param, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
          break;
        }
        case TypeId::kTimestamp: {
          std::string& text = scratch_[c];
          text.clear();
          append_timestamp(text, col.int_at(row));
          sqlite3_bind_text(st, param, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
          break;
        }
        default: sqlite3_bind_int64(st, param, col.int_at(row)); break;
      }
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return error("write failed");
    return Status::ok();
  }

  SqliteSinkConfig c_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;  // INSERT, or the upsert
  sqlite3_stmt* delete_ = nullptr;  // delete by key / delete all (upsert only)
  bool in_transaction_ = false;
  bool has_rowid_ = false;
  bool rowid_key_ = false;  // key_is_rowid()
  CommitKey key_;  // who commits (set by prepare_transactions())
  std::string checkpoint_dir_;  // its resolved checkpoint directory, recorded with its commits
  std::vector<std::string> scratch_;  // per column: timestamp text bound to the statement
};

// The SQLite sink's TransactionTarget (transactional_sink.h).
//
// Plain mode (the default): write() buffers rows in memory and a flush applies them in one
// short SQLite transaction (every 200 ms, or at kMaxPlainRows) on the applier thread
// (start_flush() returns at once; flush() and close() wait), so a writer holds the
// database's write lock only while it applies rows, not between flushes: several writers of
// one file (sink.parallelism, several jobs) take turns instead of waiting out each other's
// flush interval. Transactional mode: write() buffers rows in memory; prepare() closes them
// into a transaction that travels in the checkpoint until commit() applies it together with
// the commit record. See sqlite_sink.h.
class SqliteSinkTarget : public BufferedRowsTarget {
 public:
  explicit SqliteSinkTarget(SqliteSinkConfig config)
      : BufferedRowsTarget(config.schema, config.context), config_(std::move(config)) {}
  ~SqliteSinkTarget() override { (void)drain_applier(); }

  std::string describe() const override {
    return fmt::format("sqlite table '{}' in '{}'", config_.table, config_.path);
  }

  Status open() override {
    ASSIGN_OR_RETURN(target_, SqliteTarget::open(config_, /*probe=*/false));
    return Status::ok();
  }

  // Plain: what was written is applied first. Transactional: rows not pre-committed are
  // dropped (the job rewrites them after a restart); pre-committed transactions live on in
  // the checkpoints.
  Status close() override {
    if (!target_) return Status::ok();
    Status s = flush();
    Status c = target_->close();
    target_.reset();
    return s.is_ok() ? c : s;
  }

  Status begin_transactions(const CommitKey& key) override {
    if (!target_) return internal_error("{}: sqlite sink recover() before open()", config_.context);
    RETURN_IF_ERROR(target_->prepare_transactions(key, checkpoint_dir_));
    set_transactional();
    return Status::ok();
  }

  void set_checkpoint_dir(const std::string& dir) override { checkpoint_dir_ = dir; }

  Result<std::vector<EarlierJobCommit>> commits_from_directory(const std::string& dir) override {
    return target_->commits_from_directory(dir);
  }

  // In one SQLite transaction, and only while this sink has no record of its own.
  Status adopt_records(const CommitKey& earlier) override {
    return in_transaction([&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t own, target_->committed_checkpoint());
      if (own > 0) return Status::ok();
      return target_->adopt_records(earlier);
    });
  }

  // In one SQLite transaction: applies the transactions newer than the checkpoint recorded
  // in _sluice_commits (older ones were committed before a crash) and than `skip_through`
  // (what the job that pre-committed them recorded, when this one resumed from its
  // savepoint), records, for an append table, the rowids each one inserted (_sluice_undo),
  // and records checkpoint `id`. Nothing happens when `id` is already recorded (a replayed
  // commit or recovery).
  Status commit(const PreparedTransactions& transactions, uint64_t id, uint64_t skip_through) override {
    return in_transaction([&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t recorded, target_->committed_checkpoint());
      if (id < recorded) {  // recover() rolls back first; a commit cannot get here
        log_warn("{}: sqlite table '{}' already holds checkpoint {}, newer than checkpoint {}; transactions up "
                 "to {} are not applied again",
                 config_.context, config_.table, recorded, id, recorded);
      }
      if (id <= recorded) return Status::ok();
      const bool undo = !config_.upsert && target_->has_rowid();
      for (const auto& [txn, transaction] : transactions) {
        const RecordBatch& rows = static_cast<const BufferedRowsTransaction&>(*transaction).rows();
        if (txn <= recorded || txn <= skip_through || rows.num_rows == 0) continue;
        // The rowids this transaction inserts: one writer in one transaction gets consecutive
        // rowids, but that is checked, not assumed.
        int64_t first = 0, last = 0;
        int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
        Status applied;
        for (size_t r = 0; r < rows.num_rows && applied.is_ok(); ++r) {
          applied = target_->apply(rows, r);
          if (!undo || !applied.is_ok()) continue;
          last = target_->last_insert_rowid();
          if (r == 0) first = last;
          lo = std::min(lo, last);
          hi = std::max(hi, last);
        }
        target_->clear_bindings();
        RETURN_IF_ERROR(applied);
        if (!undo) continue;
        const auto n = static_cast<int64_t>(rows.num_rows);
        if (first == lo && last == hi && hi - lo + 1 == n) {
          RETURN_IF_ERROR(target_->record_undo(txn, std::make_pair(first, last)));
        } else {
          log_warn("{}: sqlite table '{}': the {} row(s) of checkpoint {} did not get consecutive rowids ({}..{}); "
                   "they cannot be rolled back if the job resumes from an older checkpoint",
                   config_.context, config_.table, n, txn, first, last);
          RETURN_IF_ERROR(target_->record_undo(txn, std::nullopt));
        }
      }
      if (undo) RETURN_IF_ERROR(target_->prune_undo(g_undo_retention.load(std::memory_order_relaxed)));
      return target_->record_checkpoint(id);
    });
  }

  // The record is keyed by job and sink instance, so a new job simply has none.
  Result<uint64_t> committed_id(const SinkIdentity&) override { return target_->committed_checkpoint(); }

  // The restored transactions were pre-committed by another job (this one started from its
  // savepoint) or by an older sluice: that job's record says which of them it committed. An
  // older sluice's record (keyed by table name) is this job's own, under the older layout:
  // adopted as this sink's record when it has none.
  Result<uint64_t> foreign_committed_id(const CommitKey& other) override {
    uint64_t skip_through = 0;
    RETURN_IF_ERROR(in_transaction([&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t own, target_->committed_checkpoint());
      if (own == 0 && other == legacy_commit_key(config_.table)) {
        ASSIGN_OR_RETURN(bool adopted, target_->adopt_legacy_record());
        if (adopted) return Status::ok();  // now this sink's own record
      }
      ASSIGN_OR_RETURN(skip_through, target_->committed_checkpoint(&other));
      return Status::ok();
    }));
    return skip_through;
  }

  CommitKey legacy_key() const override { return legacy_commit_key(config_.table); }

  // When the table holds a checkpoint S newer than `id` (committed, then lost or passed
  // over; 0: --start-over; see sqlite_sink.h): in ONE SQLite transaction, an append table
  // deletes the rows its undo entries record for the checkpoints after `id`, and the recorded
  // checkpoint becomes `id`, so that the replayed checkpoints are applied (once) again.
  Status roll_back(uint64_t id) override {
    return in_transaction([&]() -> Status {
      ASSIGN_OR_RETURN(uint64_t recorded, target_->committed_checkpoint());
      if (recorded <= id) return Status::ok();
      if (config_.upsert) {
        log_info("{}: sqlite table '{}' holds checkpoint {}, newer than checkpoint {} that the job resumes from; "
                 "the replayed changes are applied again (an upsert table ends the same)",
                 config_.context, config_.table, recorded, id);
        return target_->record_checkpoint(id);
      }
      ASSIGN_OR_RETURN(SqliteTarget::Rollback undone, target_->roll_back_undo(id));
      log_info("{}: sqlite table '{}' holds checkpoint {}, newer than checkpoint {}: rolled back {} row(s) of {} "
               "checkpoint(s) (the replay writes them again)",
               config_.context, config_.table, recorded, id, undone.rows, undone.checkpoints);
      warn_not_rolled_back(undone, id, recorded);
      return target_->record_checkpoint(id);
    });
  }

  bool replay_is_idempotent() const override { return config_.upsert; }

  // The table keeps its rows, as an open without checkpoints does; this sink's record and
  // undo entries (and an older sluice's record for the table) are forgotten. A new job that
  // finds other jobs' records for the same sink or table warns (see "Fresh start" in
  // sqlite_sink.h).
  Status start_fresh(const SinkIdentity& identity) override {
    std::vector<std::string> others;
    RETURN_IF_ERROR(in_transaction([&]() -> Status {
      RETURN_IF_ERROR(target_->forget_legacy_record());
      if (!config_.upsert) RETURN_IF_ERROR(target_->forget_undo(0));
      RETURN_IF_ERROR(target_->record_checkpoint(0));
      if (identity.new_job) {
        ASSIGN_OR_RETURN(others, target_->other_jobs_records());
      }
      return Status::ok();
    }));
    if (!others.empty()) {
      std::string list;
      for (const auto& o : others) list += (list.empty() ? "" : ", ") + o;
      log_warn("{}: sqlite table '{}' in '{}' also holds rows committed by other jobs ({}); fine when several jobs "
               "load it, but if one of them was this job before its checkpoint directory was deleted, stop now: "
               "this run writes its rows again",
               config_.context, config_.table, config_.path, list);
    }
    return Status::ok();
  }

 private:
  // Applies plain-mode rows in one short transaction (on the applier thread).
  Status apply_plain(const RecordBatch& rows) override {
    // IMMEDIATE: take the write lock up front, waiting (busy handler) for another writer of
    // the same database file (several sinks may share one). A deferred BEGIN whose upsert
    // reads first cannot wait when the lock is taken: "database is locked".
    RETURN_IF_ERROR(target_->begin(/*immediate=*/true));
    Status s;
    for (size_t r = 0; r < rows.num_rows && s.is_ok(); ++r) s = target_->apply(rows, r);
    target_->clear_bindings();
    if (!s.is_ok()) {
      target_->rollback();  // the job fails; leave no half-applied batch behind
      return s;
    }
    return target_->commit();
  }

  // Refused now, as without checkpoints: an append table takes inserts only.
  Status check_rows(const RecordBatch& batch) override {
    for (size_t r = 0; r < batch.num_rows && !config_.upsert; ++r) {
      if (batch.row_kind(r) != RowKind::kInsert) {
        return invalid_argument(
            "{}: sqlite table '{}' is append-only but received a {} row; set primary_key to keep it up to date",
            config_.context, config_.table, row_kind_short_name(batch.row_kind(r)));
      }
    }
    return Status::ok();
  }

  // Runs `body` in one SQLite transaction (BEGIN IMMEDIATE: it reads, then writes).
  Status in_transaction(const std::function<Status()>& body) {
    RETURN_IF_ERROR(target_->begin(/*immediate=*/true));
    Status s = body();
    if (!s.is_ok()) {
      target_->rollback();
      return s;
    }
    return target_->commit();
  }

  // Warns about rows of checkpoints id+1..recorded a rollback could not delete.
  void warn_not_rolled_back(const SqliteTarget::Rollback& undone, uint64_t id, uint64_t recorded) const {
    if (!target_->has_rowid()) {
      log_warn("{}: sqlite table '{}' has no rowid: rows of checkpoints {}..{} cannot be rolled back and may "
               "appear twice",
               config_.context, config_.table, id + 1, recorded);
    } else if (!undone.unrecoverable.empty()) {
      std::string ids;
      for (uint64_t u : undone.unrecoverable) ids += fmt::format("{}{}", ids.empty() ? "" : ", ", u);
      log_warn("{}: sqlite table '{}': the rows of checkpoint(s) {} (and, for the oldest, of any earlier "
               "checkpoint after {} whose undo entry was pruned: only the newest {} are kept) cannot be rolled "
               "back and may appear twice",
               config_.context, config_.table, ids, id, g_undo_retention.load(std::memory_order_relaxed));
    }
  }

  SqliteSinkConfig config_;
  std::unique_ptr<SqliteTarget> target_;
  std::string checkpoint_dir_;  // set_checkpoint_dir()
};

class SqliteSinkFactory : public SinkFactory {
 public:
  explicit SqliteSinkFactory(SqliteSinkConfig config) : config_(std::move(config)) {}

  // Exactly-once with checkpoints (sqlite_sink.h); writers take turns on the database's
  // write lock, each with its own commit records.
  SinkCapabilities capabilities() const override { return config_.capabilities(*config_.schema); }

  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    return std::unique_ptr<SinkWriter>(
        std::make_unique<TransactionalSinkWriter>(std::make_unique<SqliteSinkTarget>(config_), config_.context));
  }

  std::string describe() const override {
    return fmt::format("sqlite {} table {} ({})", config_.path, config_.table, config_.describe(*config_.schema));
  }

 private:
  SqliteSinkConfig config_;
};

}  // namespace

Status check_sqlite_destination(const std::string& path, const std::string& table, std::string_view context) {
  if (table.size() >= 8 && iequals(std::string_view(table).substr(0, 8), "_sluice_")) {
    return invalid_argument("{}: sqlite table name '{}' is reserved: names beginning with '_sluice_' hold sluice's "
                            "own bookkeeping (commit records); choose another name",
                            context, table);
  }
  // SQLite would take these as a URI or an in-memory database: rows would go nowhere.
  if (path == ":memory:" || path.rfind("file:", 0) == 0) {
    return invalid_argument("{}: sqlite path '{}' would be opened as {} and written nowhere; sluice writes plain "
                            "database files: give a file name (for a file really named so, write './{}')",
                            context, path, path == ":memory:" ? "an in-memory database" : "a SQLite URI", path);
  }
  return Status::ok();
}

void set_sqlite_undo_retention_for_testing(size_t checkpoints) {
  g_undo_retention.store(checkpoints == 0 ? kSqliteUndoRetention : checkpoints, std::memory_order_relaxed);
}

Result<std::unique_ptr<SinkFactory>> make_sqlite_sink_factory(const SinkSpec& spec) {
  const ConnectorOptions& o = spec.options;
  SqliteSinkConfig c;
  c.context = table_context(o, spec.table);
  c.schema = spec.schema;
  ASSIGN_OR_RETURN(c.path, o.require_string("path"));
  c.table = o.get_string("table", spec.table);
  if (c.table.empty()) return invalid_argument("{}: option 'table' must not be empty", c.context);
  RETURN_IF_ERROR(check_sqlite_destination(c.path, c.table, c.context));
  ASSIGN_OR_RETURN(static_cast<TableKey&>(c), read_table_key(o, *c.schema, c.context));
  RETURN_IF_ERROR(o.check_all_used());
  RETURN_IF_ERROR(check_parent_directory(c.path, c.context));
  // An existing database is checked now (columns, key constraint), not when the job runs.
  struct stat st {};
  if (::stat(c.path.c_str(), &st) == 0) {
    ASSIGN_OR_RETURN(auto probe, SqliteTarget::open(c, /*probe=*/true));
    RETURN_IF_ERROR(probe->close());
  }
  return std::unique_ptr<SinkFactory>(std::make_unique<SqliteSinkFactory>(std::move(c)));
}

}  // namespace sluice
