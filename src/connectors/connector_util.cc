#include "connectors/connector_util.h"

#include <algorithm>

#include <fnmatch.h>

#include <string.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <set>

#include "types/schema.h"

namespace sluice {
namespace {

Result<char> parse_delimiter(const std::string& text, const std::string& context) {
  if (text.size() == 1) return text[0];
  if (text == "\\t" || iequals(text, "tab")) return '\t';
  return invalid_argument("{}: option 'delimiter' must be a single character (or 'tab'), got '{}'", context,
                          text);
}

// Reads format/delimiter/header; `header_default` differs between sources and sinks.
Result<FormatOptions> read_format(const ConnectorOptions& options, const std::string& context,
                                  bool header_default) {
  FormatOptions f;
  f.format = options.get_string("format", "json");
  if (f.format != "json" && f.format != "csv") {
    return invalid_argument("{}: option 'format' must be 'json' or 'csv', got '{}'", context, f.format);
  }
  if (f.format == "csv") {
    ASSIGN_OR_RETURN(f.csv_delimiter, parse_delimiter(options.get_string("delimiter", ","), context));
    ASSIGN_OR_RETURN(f.csv_header, options.get_bool("header", header_default));
  } else {
    for (const char* csv_only : {"delimiter", "header"}) {
      if (options.has(csv_only)) {
        return invalid_argument("{}: option '{}' only applies to format 'csv'", context, csv_only);
      }
    }
  }
  return f;
}

}  // namespace

std::string table_context(const ConnectorOptions& options, const std::string& table) {
  return options.context().empty() ? "table " + table : options.context();
}

Result<FormatOptions> read_source_format(const ConnectorOptions& options, const std::string& context) {
  ASSIGN_OR_RETURN(FormatOptions f, read_format(options, context, /*header_default=*/false));
  f.timestamp_unit = options.get_string("timestamp_unit", "ms");
  if (f.timestamp_unit != "s" && f.timestamp_unit != "ms" && f.timestamp_unit != "us") {
    return invalid_argument("{}: option 'timestamp_unit' must be 's', 'ms' or 'us', got '{}'", context,
                            f.timestamp_unit);
  }
  return f;
}

Result<LineReader::Options> read_line_options(const ConnectorOptions& options, const FormatOptions& format,
                                              const std::string& context) {
  LineReader::Options o;
  ASSIGN_OR_RETURN(int64_t max_line, options.get_int("max_line_bytes", static_cast<int64_t>(o.max_line_bytes)));
  // The reader's buffer grows up to this size, so the bound is memory.
  constexpr int64_t kLargest = int64_t{1} << 30;
  if (max_line < 1 || max_line > kLargest) {
    return invalid_argument("{}: option 'max_line_bytes' must be between 1 and {} bytes, got {}", context, kLargest,
                            max_line);
  }
  o.max_line_bytes = static_cast<size_t>(max_line);
  if (format.format == "csv") {
    o.csv_quoting = true;
    o.csv_delimiter = format.csv_delimiter;
    o.csv_header = format.csv_header;
  }
  return o;
}

Result<FormatOptions> read_sink_format(const ConnectorOptions& options, const std::string& context) {
  return read_format(options, context, /*header_default=*/true);
}

Status check_parent_directory(const std::string& path, const std::string& context) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return Status::ok();
  struct stat st {};
  if (::stat(parent.c_str(), &st) != 0) {
    return not_found("{}: cannot write '{}': directory '{}' does not exist", context, path, parent.string());
  }
  if (!S_ISDIR(st.st_mode)) {
    return invalid_argument("{}: cannot write '{}': '{}' is not a directory", context, path, parent.string());
  }
  return Status::ok();
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer (which may or may not be buf).
  return std::string(strerror_r(err, buf, sizeof buf));
}

Status check_output_still_at_path(int fd, const std::string& path, const std::string& context,
                                  const std::string& what) {
  struct stat open_file {};
  if (::fstat(fd, &open_file) != 0) return io_error("{}: cannot stat {}: {}", context, what, errno_text(errno));
  struct stat at_path {};
  const bool present = ::stat(path.c_str(), &at_path) == 0;
  if (open_file.st_nlink > 0 && present && at_path.st_dev == open_file.st_dev && at_path.st_ino == open_file.st_ino) {
    return Status::ok();
  }
  return io_error("{}: {} was {} while the job wrote it: the rows written went to a file that is no longer there; "
                  "rerun the job (and do not delete or move its output while it runs)",
                  context, what, present ? "replaced or moved" : "deleted");
}

bool FileSetPath::matches(const std::string& name) const {
  if (name.empty()) return false;
  return pattern.empty() ? name[0] != '.' : ::fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) == 0;
}

std::optional<FileSetPath> file_set_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!path.empty() && (path.back() == '/' || fs::is_directory(path, ec))) return FileSetPath{path, std::string()};
  fs::path p(path);
  std::string name = p.filename().string();
  if (name.find_first_of("*?[") == std::string::npos) return std::nullopt;
  std::string dir = p.parent_path().string();
  return FileSetPath{dir.empty() ? "." : dir, name};
}

namespace {

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<MessageStartOptions> read_message_start_options(const ConnectorOptions& o, const std::string& context) {
  MessageStartOptions m;
  const std::string startup = o.get_string("startup_mode", "earliest");
  if (startup != "earliest" && startup != "latest") {
    return invalid_argument("{}: option 'startup_mode' must be 'earliest' or 'latest', got '{}'", context, startup);
  }
  m.start_at_end = startup == "latest";
  const std::string bounded = o.get_string("bounded_mode");
  if (!bounded.empty() && bounded != "latest") {
    return invalid_argument("{}: option 'bounded_mode' must be 'latest', got '{}'", context, bounded);
  }
  m.bounded = bounded == "latest";
  return m;
}

Result<std::vector<std::string>> parse_name_list(const std::string& text, const std::string& option,
                                                 const std::string& context) {
  std::set<std::string> unique;
  for (size_t b = 0; b <= text.size() && !text.empty();) {
    size_t e = text.find(',', b);
    if (e == std::string::npos) e = text.size();
    std::string name = text.substr(b, e - b);
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (name.empty()) return invalid_argument("{}: option '{}' has an empty name in '{}'", context, option, text);
    unique.insert(std::move(name));
    b = e + 1;
  }
  return std::vector<std::string>(unique.begin(), unique.end());
}

Result<std::vector<int>> parse_primary_key(const std::string& text, const Schema& schema,
                                           const std::string& context) {
  std::vector<int> key;
  if (trim_blanks(text).empty()) return key;
  std::string_view rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view name = trim_blanks(rest.substr(0, comma));
    if (name.empty()) {
      return invalid_argument("{}: option 'primary_key' has an empty column name in '{}'", context, text);
    }
    int idx = schema.find(name);
    if (idx < 0) {
      return invalid_argument("{}: primary_key column '{}' is not a column of the sink {}", context, name,
                              schema.to_string());
    }
    for (int k : key) {
      if (k == idx) return invalid_argument("{}: primary_key names column '{}' twice", context, name);
    }
    key.push_back(idx);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return key;
}

std::string TableKey::describe(const Schema& schema) const {
  if (!upsert) return "append";
  if (key_columns.empty()) return "upsert, single row";
  std::string mode = "upsert on ";
  for (size_t i = 0; i < key_columns.size(); ++i) {
    if (i) mode += ",";
    mode += schema.field(static_cast<size_t>(key_columns[i])).name;
  }
  return mode;
}

SinkCapabilities TableKey::capabilities(const Schema& schema) const {
  SinkCapabilities c;
  c.upsert = upsert;
  c.guarantee = SinkGuarantee::kExactlyOnce;  // with checkpoints
  for (int k : key_columns) c.primary_key.push_back(schema.field(static_cast<size_t>(k)).name);
  c.parallel_writers = true;
  return c;
}

Result<TableKey> read_table_key(const ConnectorOptions& options, const Schema& schema, const std::string& context) {
  TableKey key;
  key.upsert = options.has("primary_key");
  if (key.upsert) {
    ASSIGN_OR_RETURN(key.key_columns, parse_primary_key(options.get_string("primary_key"), schema, context));
  }
  for (int i = 0; i < static_cast<int>(schema.size()); ++i) {
    key.all_columns.push_back(i);
    if (std::find(key.key_columns.begin(), key.key_columns.end(), i) == key.key_columns.end()) {
      key.value_columns.push_back(i);
    }
  }
  return key;
}

std::string quote_sql_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace sluice

