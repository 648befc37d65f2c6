// Dead-letter queues written to a JSON-lines file, and the helpers the database backends
// (connectors/sqlite/sqlite_dead_letter.cc) share. Both kinds open their destination on
// the first letter (a clean run leaves nothing behind) and serialize writers with a mutex:
// letters are rare compared to records, so a lock is simpler than per-split queues.
#include "formats/dead_letter.h"

#include <fcntl.h>
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
constexpr mode_t kPrivateFileMode = kSideOutputFileMode;

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
    RETURN_IF_ERROR(open_locked());
    queries_.clear();
    if (!letter.queries.empty()) append_json_array(queries_, letter.queries);
    line_.clear();
    MessageFields message;
    if (!letter.topic.empty()) message = MessageFields{true, letter.topic, letter.partition, letter.key, letter.headers};
    append_line(line_, letter.source, letter.split, letter.offset, letter.line, message, queries_, letter.error,
                letter.raw, wall_clock_iso());
    RETURN_IF_ERROR(write_locked(line_));
    count_.fetch_add(1, std::memory_order_relaxed);
    return Status::ok();
  }

  Status write_rows(const RecordBatch& rows) override {
    if (rows.num_rows == 0) return Status::ok();
    const bool with_message = rows.columns.size() > side_output_schema(kind_)->size();
    const SideOutputColumns c = side_output_columns(kind_, with_message);
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(open_locked());
    line_.clear();
    Micros time_formatted = 0;
    std::string time;  // rows of one batch usually share their time: formatted once
    for (size_t r = 0; r < rows.num_rows; ++r) {
      const Micros t = rows.column(c.time).int_at(r);
      if (time.empty() || t != time_formatted) {
        time = format_timestamp_iso(t);
        time_formatted = t;
      }
      MessageFields message;
      std::string_view key;
      if (with_message && !rows.column(static_cast<size_t>(c.topic)).is_null(r)) {
        const Column& keys = rows.column(static_cast<size_t>(c.key));
        if (!keys.is_null(r)) key = keys.string_at(r);
        message = MessageFields{true, rows.column(static_cast<size_t>(c.topic)).string_at(r),
                                rows.column(static_cast<size_t>(c.partition)).int_at(r), keys.is_null(r) ? nullptr : &key,
                                rows.column(static_cast<size_t>(c.headers)).string_at(r)};
      }
      append_line(line_, rows.column(c.source).string_at(r), rows.column(c.split).int_at(r),
                  rows.column(c.offset).int_at(r), rows.column(c.line).int_at(r), message,
                  c.queries >= 0 ? rows.column(static_cast<size_t>(c.queries)).string_at(r) : std::string_view(),
                  rows.column(c.error).string_at(r), rows.column(c.raw).string_at(r), time);
    }
    RETURN_IF_ERROR(write_locked(line_));
    count_.fetch_add(rows.num_rows, std::memory_order_relaxed);
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
  // A message source's letter: "topic", "partition", "key" (null: none) and "headers".
  struct MessageFields {
    bool present = false;
    std::string_view topic;
    int64_t partition = -1;
    const std::string_view* key = nullptr;
    std::string_view headers;
  };
  // One JSON line: {"source":..,"split":..,"offset":..,"line":..,[message fields,]
  // ["queries":[..],]"error":..,"raw":..,"time":".."}. `queries` is a JSON array (empty: no
  // "queries" field).
  static void append_line(std::string& out, std::string_view source, int64_t split, int64_t offset, int64_t line,
                          const MessageFields& message, std::string_view queries, std::string_view error,
                          std::string_view raw, std::string_view time) {
    out += "{\"source\":";
    append_json_string(out, source);
    fmt::format_to(std::back_inserter(out), ",\"split\":{},\"offset\":{},\"line\":{},", split, offset, line);
    if (message.present) {
      out += "\"topic\":";
      append_json_string(out, message.topic);
      fmt::format_to(std::back_inserter(out), ",\"partition\":{},\"key\":", message.partition);
      if (message.key) {
        append_json_string(out, *message.key);
      } else {
        out += "null";
      }
      out += ",\"headers\":";
      out += message.headers.empty() ? std::string_view("{}") : message.headers;  // a JSON object already
      out += ",";
    }
    if (!queries.empty()) {
      out += "\"queries\":";
      out += queries;
      out += ",";
    }
    out += "\"error\":";
    append_json_string(out, error);
    out += ",\"raw\":";
    append_json_string(out, raw);
    out += ",\"time\":\"";
    out += time;
    out += "\"}\n";
  }

  Status open_locked() {
    if (file_ != nullptr) return Status::ok();
    // Append: a resumed run continues the letters of the run it resumes (begin_run()
    // removed those of an earlier run when this one is fresh).
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, kPrivateFileMode);
    if (fd >= 0) {
      file_ = ::fdopen(fd, "ab");
      if (file_ == nullptr) ::close(fd);
    }
    if (file_ == nullptr) return io_error("{} {}: cannot open: {}", kind_name(kind_), path_, errno_text(errno));
    return Status::ok();
  }

  Status write_locked(const std::string& text) {
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
      return io_error("{} {}: write failed: {}", kind_name(kind_), path_, errno_text(errno));
    }
    return Status::ok();
  }

  const std::string path_;
  const SideOutputKind kind_;
  std::mutex mu_;
  FILE* file_ = nullptr;  // guarded by mu_
  std::string line_;      // guarded by mu_; reused
  std::string queries_;   // guarded by mu_; reused
  std::atomic<uint64_t> count_{0};
};

}  // namespace

namespace {
std::vector<Field> with_message_fields(const SchemaPtr& base) {
  std::vector<Field> fields = base->fields();
  fields.push_back({"topic", TypeId::kString, true});
  fields.push_back({"partition", TypeId::kInt64, true});
  fields.push_back({"key", TypeId::kString, true});
  fields.push_back({"headers", TypeId::kString, true});
  return fields;
}
}  // namespace

bool is_side_output_message_column(std::string_view name) {
  return name == "topic" || name == "partition" || name == "key" || name == "headers";
}

const SchemaPtr& side_output_schema(SideOutputKind kind, bool message_columns) {
  if (message_columns) {
    static const SchemaPtr dead_letters = make_schema(with_message_fields(side_output_schema(SideOutputKind::kDeadLetters)));
    static const SchemaPtr late_data = make_schema(with_message_fields(side_output_schema(SideOutputKind::kLateData)));
    return kind == SideOutputKind::kLateData ? late_data : dead_letters;
  }
  static const SchemaPtr dead_letters = make_schema({{"source", TypeId::kString, true},
                                                     {"split", TypeId::kInt64, true},
                                                     {"offset", TypeId::kInt64, true},
                                                     {"line", TypeId::kInt64, true},
                                                     {"error", TypeId::kString, true},
                                                     {"raw", TypeId::kString, true},
                                                     {"time", TypeId::kTimestamp, true}});
  static const SchemaPtr late_data = make_schema({{"source", TypeId::kString, true},
                                                  {"split", TypeId::kInt64, true},
                                                  {"offset", TypeId::kInt64, true},
                                                  {"line", TypeId::kInt64, true},
                                                  {"queries", TypeId::kString, true},
                                                  {"error", TypeId::kString, true},
                                                  {"raw", TypeId::kString, true},
                                                  {"time", TypeId::kTimestamp, true}});
  return kind == SideOutputKind::kLateData ? late_data : dead_letters;
}

SideOutputColumns side_output_columns(SideOutputKind kind, bool message_columns) {
  SideOutputColumns c;
  if (kind == SideOutputKind::kLateData) {
    c.queries = 4;
    c.error = 5;
    c.raw = 6;
    c.time = 7;
  }
  if (message_columns) {
    c.topic = static_cast<int>(c.time) + 1;
    c.partition = c.topic + 1;
    c.key = c.topic + 2;
    c.headers = c.topic + 3;
  }
  return c;
}

SideOutputRows::SideOutputRows(SideOutputKind kind, bool message_columns)
    : kind_(kind), message_columns_(message_columns), rows_(make_batch(side_output_schema(kind, message_columns))) {}

void SideOutputRows::add(const DeadLetter& letter, Micros time) {
  const SideOutputColumns c = side_output_columns(kind_, message_columns_);
  RecordBatch& b = *rows_;
  b.mutable_column(c.source).append_string(letter.source);
  b.mutable_column(c.split).append_int(letter.split);
  b.mutable_column(c.offset).append_int(letter.offset);
  b.mutable_column(c.line).append_int(letter.line);
  if (c.queries >= 0) {
    queries_.clear();
    append_json_array(queries_, letter.queries);
    b.mutable_column(static_cast<size_t>(c.queries)).append_string(queries_);
  }
  b.mutable_column(c.error).append_string(letter.error);
  b.mutable_column(c.raw).append_string(letter.raw);
  b.mutable_column(c.time).append_int(time - time % kMicrosPerMilli);
  if (message_columns_) {
    Column& topic = b.mutable_column(static_cast<size_t>(c.topic));
    Column& partition = b.mutable_column(static_cast<size_t>(c.partition));
    Column& key = b.mutable_column(static_cast<size_t>(c.key));
    Column& headers = b.mutable_column(static_cast<size_t>(c.headers));
    if (letter.topic.empty()) {
      topic.append_null();
      partition.append_null();
      key.append_null();
      headers.append_null();
    } else {
      topic.append_string(letter.topic);
      partition.append_int(letter.partition);
      if (letter.key) {
        key.append_string(*letter.key);
      } else {
        key.append_null();
      }
      headers.append_string(letter.headers.empty() ? std::string_view("{}") : letter.headers);
    }
  }
  ++b.num_rows;
}

MutableBatchPtr SideOutputRows::take() {
  MutableBatchPtr out = std::move(rows_);
  rows_ = make_batch(side_output_schema(kind_, message_columns_));
  return out;
}

bool dead_letter_uses_sqlite(const std::string& path, const std::string& table) {
  return !table.empty() || ends_with_ci(path, ".db") || ends_with_ci(path, ".sqlite") || ends_with_ci(path, ".sqlite3");
}

const char* default_side_output_table(SideOutputKind kind) {
  return kind == SideOutputKind::kLateData ? "late" : "dlq";
}

const char* side_output_kind_name(SideOutputKind kind) { return kind_name(kind); }

std::string dead_letter_time() { return wall_clock_iso(); }

void append_dead_letter_queries(std::string& out, const std::vector<std::string_view>& queries) {
  append_json_array(out, queries);
}

Status check_dead_letter_destination(const std::string& path, SideOutputKind kind) {
  if (path.empty()) return invalid_argument("{}: no path given", kind_name(kind));
  return check_destination(path, kind);
}

Result<std::unique_ptr<DeadLetterQueue>> make_file_dead_letter_queue(const std::string& path, SideOutputKind kind) {
  RETURN_IF_ERROR(check_dead_letter_destination(path, kind));
  return std::unique_ptr<DeadLetterQueue>(std::make_unique<FileDeadLetterQueue>(path, kind));
}

}  // namespace sluice
