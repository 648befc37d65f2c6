// The SQLite backend of dead-letter queues and late-data outputs (formats/dead_letter.h):
// letters go to a table of a SQLite database, possibly the one a SQLite sink writes.
#include "connectors/sqlite/sqlite_dead_letter.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "common/logging.h"
#include "connectors/sqlite/sqlite_sink.h"

namespace sluice {
namespace {

// Letters are buffered and inserted in one short transaction per flush() (or per
// kMaxPending letters): the database may be shared with a SQLite sink, so the write lock
// must not be held between calls, and one transaction per letter would be one fsync each.
class SqliteDeadLetterQueue final : public DeadLetterQueue {
 public:
  SqliteDeadLetterQueue(std::string path, std::string table, SideOutputKind kind)
      : path_(std::move(path)), table_(std::move(table)), kind_(kind) {}

  ~SqliteDeadLetterQueue() override {
    std::lock_guard<std::mutex> lock(mu_);
    Status s = commit_locked();
    if (!s.is_ok()) log_error("{} ({} letters lost)", s.message(), pending_.size());
    if (insert_ != nullptr) sqlite3_finalize(insert_);
    if (db_ != nullptr) sqlite3_close(db_);
  }

  // A fresh run drops the table (the next letter creates it again), never the database:
  // it may hold a sink's tables.
  Status begin_run(bool resumed) override {
    std::lock_guard<std::mutex> lock(mu_);
    struct stat st {};
    if (resumed || ::stat(path_.c_str(), &st) != 0) return Status::ok();
    if (db_ != nullptr) RETURN_IF_ERROR(commit_locked());
    sqlite3* db = nullptr;
    Status status;
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      status = io_error("{} {} (table {}): cannot open SQLite database: {}", side_output_kind_name(kind_), path_, table_,
                        db ? sqlite3_errmsg(db) : "out of memory");
    } else {
      sqlite3_busy_timeout(db, 10000);
      const std::string drop = "DROP TABLE IF EXISTS " + quoted_table();
      if (sqlite3_exec(db, drop.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        status = io_error("{} {} (table {}): cannot drop the table of an earlier run: {}", side_output_kind_name(kind_), path_,
                          table_, sqlite3_errmsg(db));
      }
    }
    sqlite3_close(db);
    return status;
  }

  Status write(const DeadLetter& letter) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (db_ == nullptr) RETURN_IF_ERROR(open_locked());
    std::string queries;
    if (!letter.queries.empty()) append_dead_letter_queries(queries, letter.queries);
    pending_.push_back(Letter{std::string(letter.source), letter.split, letter.offset, letter.line,
                              std::string(letter.error), std::string(letter.raw), dead_letter_time(),
                              std::move(queries)});
    count_.fetch_add(1, std::memory_order_relaxed);
    if (pending_.size() >= kMaxPending) return commit_locked();
    return Status::ok();
  }

  Status write_rows(const RecordBatch& rows) override {
    if (rows.num_rows == 0) return Status::ok();
    const SideOutputColumns c = side_output_columns(kind_);
    std::lock_guard<std::mutex> lock(mu_);
    if (db_ == nullptr) RETURN_IF_ERROR(open_locked());
    for (size_t r = 0; r < rows.num_rows; ++r) {
      pending_.push_back(Letter{std::string(rows.column(c.source).string_at(r)), rows.column(c.split).int_at(r),
                                rows.column(c.offset).int_at(r), rows.column(c.line).int_at(r),
                                std::string(rows.column(c.error).string_at(r)),
                                std::string(rows.column(c.raw).string_at(r)),
                                format_timestamp_iso(rows.column(c.time).int_at(r)),
                                c.queries >= 0 ? std::string(rows.column(static_cast<size_t>(c.queries)).string_at(r))
                                               : std::string()});
    }
    count_.fetch_add(rows.num_rows, std::memory_order_relaxed);
    if (pending_.size() >= kMaxPending) return commit_locked();
    return Status::ok();
  }

  Status flush() override {
    std::lock_guard<std::mutex> lock(mu_);
    return commit_locked();
  }

  uint64_t count() const override { return count_.load(std::memory_order_relaxed); }
  std::string describe() const override { return "sqlite " + path_ + " table " + table_; }

 private:
  struct Letter {
    std::string source;
    int64_t split;
    int64_t offset;
    int64_t line;
    std::string error;
    std::string raw;
    std::string time;
    std::string queries;  // JSON array; late data only
  };
  static constexpr size_t kMaxPending = 256;

  std::string quoted_table() const {
    std::string q = "\"";
    for (char c : table_) {
      q.push_back(c);
      if (c == '"') q.push_back('"');
    }
    return q + "\"";
  }

  Status sqlite_error(std::string_view what) const {
    return io_error("{} {} (table {}): {}: {}", side_output_kind_name(kind_), path_, table_, what,
                    db_ ? sqlite3_errmsg(db_) : "out of memory");
  }

  Status open_locked() {
    // Create a new database file 0600 ourselves (SQLite would make it 0644); SQLite gives
    // its journal and WAL files the database's mode.
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kSideOutputFileMode);
    if (fd >= 0) ::close(fd);
    int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    Status status;
    if (rc != SQLITE_OK) {
      status = sqlite_error("cannot open SQLite database");
    } else {
      // A sink may be writing to the same database; wait for its transactions.
      sqlite3_busy_timeout(db_, 10000);
      const std::string table = quoted_table();
      const bool late = kind_ == SideOutputKind::kLateData;
      const std::string ddl = "CREATE TABLE IF NOT EXISTS " + table +
                              " (source TEXT, split INTEGER, \"offset\" INTEGER, line INTEGER," +
                              (late ? " queries TEXT," : "") + " error TEXT, raw BLOB, time TEXT)";
      const std::string insert = "INSERT INTO " + table + " (source, split, \"offset\", line, error, raw, time" +
                                 (late ? ", queries" : "") + ") VALUES (?, ?, ?, ?, ?, ?, ?" + (late ? ", ?" : "") +
                                 ")";
      if (sqlite3_exec(db_, ddl.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        status = sqlite_error("cannot create table");
      } else if (sqlite3_prepare_v2(db_, insert.c_str(), -1, &insert_, nullptr) != SQLITE_OK) {
        status = sqlite_error("cannot prepare insert");
      }
    }
    if (!status.is_ok()) {
      sqlite3_close(db_);  // also releases a handle whose open failed
      db_ = nullptr;
    }
    return status;
  }

  Status commit_locked() {
    if (pending_.empty()) return Status::ok();
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return sqlite_error("cannot begin transaction");
    }
    for (const Letter& l : pending_) {
      sqlite3_bind_text(insert_, 1, l.source.data(), static_cast<int>(l.source.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 2, l.split);
      sqlite3_bind_int64(insert_, 3, l.offset);
      sqlite3_bind_int64(insert_, 4, l.line);
      sqlite3_bind_text(insert_, 5, l.error.data(), static_cast<int>(l.error.size()), SQLITE_STATIC);
      // data() is never null, so an empty record is an empty BLOB, not NULL.
      sqlite3_bind_blob(insert_, 6, l.raw.data(), static_cast<int>(l.raw.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 7, l.time.data(), static_cast<int>(l.time.size()), SQLITE_STATIC);
      if (kind_ == SideOutputKind::kLateData) {
        sqlite3_bind_text(insert_, 8, l.queries.data(), static_cast<int>(l.queries.size()), SQLITE_STATIC);
      }
      const int rc = sqlite3_step(insert_);
      sqlite3_reset(insert_);
      if (rc != SQLITE_DONE) {
        Status status = sqlite_error("insert failed");
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return status;  // the letters stay pending; a later flush() retries them
      }
    }
    sqlite3_clear_bindings(insert_);
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      Status status = sqlite_error("commit failed");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return status;
    }
    pending_.clear();
    return Status::ok();
  }

  const std::string path_;
  const std::string table_;
  const SideOutputKind kind_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;           // guarded by mu_
  sqlite3_stmt* insert_ = nullptr;  // guarded by mu_
  std::vector<Letter> pending_;     // guarded by mu_
  std::atomic<uint64_t> count_{0};
};

}  // namespace

Result<std::unique_ptr<DeadLetterQueue>> make_sqlite_dead_letter_queue(const std::string& path,
                                                                       const std::string& table, SideOutputKind kind) {
  const std::string name = table.empty() ? default_side_output_table(kind) : table;
  RETURN_IF_ERROR(check_sqlite_destination(path, name, side_output_kind_name(kind)));
  RETURN_IF_ERROR(check_dead_letter_destination(path, kind));
  return std::unique_ptr<DeadLetterQueue>(std::make_unique<SqliteDeadLetterQueue>(path, name, kind));
}

}  // namespace sluice
