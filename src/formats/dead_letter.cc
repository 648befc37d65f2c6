// Dead-letter queues: a JSON-lines file or a SQLite table. Both open their destination on
// the first letter (a clean run leaves nothing behind) and serialize writers with a mutex:
// letters are rare compared to records, so a lock is simpler than per-split queues.
#include "formats/dead_letter.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <system_error>
#include <vector>

#include "common/logging.h"
#include "common/time_util.h"

namespace sluice {
namespace {

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    char a = s[s.size() - suffix.size() + i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a + 32);
    if (a != suffix[i]) return false;
  }
  return true;
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0. Strict because strict JSON readers reject the rest.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const size_t left = s.size() - i;
  const unsigned char c = p[0];
  auto cont = [&](size_t k) { return k < left && (p[k] & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F)) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F)) return 0;
    return 4;
  }
  return 0;
}

// Appends `s` as a JSON string. Bytes that are not valid UTF-8 become \u00XX (the byte's
// value as a code point): the line stays valid JSON and the byte values stay visible.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    const size_t n = c < 0x20 ? 0 : utf8_sequence(s, i);
    if (n == 0) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out.push_back('"');
}

// Wall-clock time of a letter, ISO-8601 UTC with milliseconds.
std::string wall_clock_iso() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  return format_timestamp_iso(us - us % kMicrosPerMilli);
}

// Appends `queries` as a JSON array of strings.
void append_json_array(std::string& out, const std::vector<std::string_view>& queries) {
  out.push_back('[');
  for (size_t i = 0; i < queries.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, queries[i]);
  }
  out.push_back(']');
}

// Side outputs copy raw input, which may be confidential: what they create is readable by
// its owner only (an existing file keeps its mode: the user may have chosen it).
constexpr mode_t kPrivateFileMode = 0600;

// A fresh run removes what an earlier run left at `path`: a regular file is deleted (the
// next letter creates it anew, 0600), a symlink's regular target truncated; a device, pipe
// or socket (e.g. /dev/stderr) is never touched.
Status discard_previous_file(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::ok();
    return io_error("{} {}: {}", what, path, errno_text(errno));
  }
  if (S_ISREG(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return io_error("{} {}: cannot remove the file of an earlier run: {}", what, path, errno_text(errno));
    }
  } else if (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    if (::truncate(path.c_str(), 0) != 0) {
      return io_error("{} {}: cannot truncate the file of an earlier run: {}", what, path, errno_text(errno));
    }
  }
  return Status::ok();
}

const char* kind_name(SideOutputKind kind) {
  return kind == SideOutputKind::kLateData ? "late-data output" : "dead-letter queue";
}

// Fails early (at job creation) on destinations that can never be opened, without
// creating anything.
Status check_destination(const std::string& path, SideOutputKind kind) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_directory(p, ec)) return invalid_argument("{} {}: is a directory", kind_name(kind), path);
  const fs::path parent = p.parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    return not_found("{} {}: directory {} does not exist", kind_name(kind), path, parent.string());
  }
  return Status::ok();
}

class FileDeadLetterQueue final : public DeadLetterQueue {
 public:
  FileDeadLetterQueue(std::string path, SideOutputKind kind) : path_(std::move(path)), kind_(kind) {}
  ~FileDeadLetterQueue() override {
    if (file_ != nullptr) std::fclose(file_);
  }

  Status begin_run(bool resumed) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (resumed) return Status::ok();
    if (file_ != nullptr) {
      std::fclose(file_);
      file_ = nullptr;
    }
    return discard_previous_file(path_, kind_name(kind_));
  }

  Status write(const DeadLetter& letter) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (file_ == nullptr) {
      // Append: a resumed run continues the letters of the run it resumes (begin_run()
      // removed those of an earlier run when this one is fresh).
      int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, kPrivateFileMode);
      if (fd >= 0) {
        file_ = ::fdopen(fd, "ab");
        if (file_ == nullptr) ::close(fd);
      }
      if (file_ == nullptr) return io_error("{} {}: cannot open: {}", kind_name(kind_), path_, errno_text(errno));
    }
    line_.clear();
    line_ += "{\"source\":";
    append_json_string(line_, letter.source);
    fmt::format_to(std::back_inserter(line_), ",\"split\":{},\"offset\":{},\"line\":{},", letter.split,
                   letter.offset, letter.line);
    if (!letter.queries.empty()) {
      line_ += "\"queries\":";
      append_json_array(line_, letter.queries);
      line_ += ",";
    }
    line_ += "\"error\":";
    append_json_string(line_, letter.error);
    line_ += ",\"raw\":";
    append_json_string(line_, letter.raw);
    line_ += ",\"time\":\"";
    line_ += wall_clock_iso();
    line_ += "\"}\n";
    if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) {
      return io_error("{} {}: write failed: {}", kind_name(kind_), path_, errno_text(errno));
    }
    count_.fetch_add(1, std::memory_order_relaxed);
    return Status::ok();
  }

  Status flush() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (file_ != nullptr && std::fflush(file_) != 0) {
      return io_error("{} {}: flush failed: {}", kind_name(kind_), path_, errno_text(errno));
    }
    return Status::ok();
  }

  uint64_t count() const override { return count_.load(std::memory_order_relaxed); }
  std::string describe() const override { return "file " + path_; }

 private:
  const std::string path_;
  const SideOutputKind kind_;
  std::mutex mu_;
  FILE* file_ = nullptr;  // guarded by mu_
  std::string line_;      // guarded by mu_; reused
  std::atomic<uint64_t> count_{0};
};

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
      status = io_error("{} {} (table {}): cannot open SQLite database: {}", kind_name(kind_), path_, table_,
                        db ? sqlite3_errmsg(db) : "out of memory");
    } else {
      sqlite3_busy_timeout(db, 10000);
      const std::string drop = "DROP TABLE IF EXISTS " + quoted_table();
      if (sqlite3_exec(db, drop.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        status = io_error("{} {} (table {}): cannot drop the table of an earlier run: {}", kind_name(kind_), path_,
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
    if (!letter.queries.empty()) append_json_array(queries, letter.queries);
    pending_.push_back(Letter{std::string(letter.source), letter.split, letter.offset, letter.line,
                              std::string(letter.error), std::string(letter.raw), wall_clock_iso(),
                              std::move(queries)});
    count_.fetch_add(1, std::memory_order_relaxed);
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
    int split;
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
    return io_error("{} {} (table {}): {}: {}", kind_name(kind_), path_, table_, what,
                    db_ ? sqlite3_errmsg(db_) : "out of memory");
  }

  Status open_locked() {
    // Create a new database file 0600 ourselves (SQLite would make it 0644); SQLite gives
    // its journal and WAL files the database's mode.
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kPrivateFileMode);
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
      sqlite3_bind_int(insert_, 2, l.split);
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

bool dead_letter_uses_sqlite(const std::string& path, const std::string& table) {
  return !table.empty() || ends_with_ci(path, ".db") || ends_with_ci(path, ".sqlite") || ends_with_ci(path, ".sqlite3");
}

const char* default_side_output_table(SideOutputKind kind) {
  return kind == SideOutputKind::kLateData ? "late" : "dlq";
}

Result<std::unique_ptr<DeadLetterQueue>> make_dead_letter_queue(const std::string& path,
                                                                const std::string& table, SideOutputKind kind) {
  if (path.empty()) return invalid_argument("{}: no path given", kind_name(kind));
  RETURN_IF_ERROR(check_destination(path, kind));
  if (dead_letter_uses_sqlite(path, table)) {
    return std::unique_ptr<DeadLetterQueue>(
        std::make_unique<SqliteDeadLetterQueue>(path, table.empty() ? default_side_output_table(kind) : table, kind));
  }
  return std::unique_ptr<DeadLetterQueue>(std::make_unique<FileDeadLetterQueue>(path, kind));
}

}  // namespace sluice
