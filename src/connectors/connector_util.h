// Small pieces shared by every connector factory: how errors name their table, how the
// format options (format, delimiter, header, timestamp_unit) and the line splitting
// options (max_line_bytes) are read and validated, and errno text. Stateless; called from the planner thread while factories are created.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "connectors/line_reader.h"
#include "connectors/options.h"
#include "connectors/sink.h"
#include "formats/format.h"
#include "types/schema.h"

namespace sluice {

// "table clicks": the options' own context when set, else built from the table name.
std::string table_context(const ConnectorOptions& options, const std::string& table);

// Reads the options a line-based source passes to its decoder: format ('json' default or
// 'csv'), and for CSV delimiter (one character, or 'tab' / '\t'), header (bool); plus
// timestamp_unit ('s', 'ms' default, 'us'). Options that only make sense for CSV are
// rejected for JSON, so a mistaken setting does not pass silently.
Result<FormatOptions> read_source_format(const ConnectorOptions& options, const std::string& context);

// Reads the record-splitting options of a line-based source (file, stdin):
// max_line_bytes (default 64 MiB; a longer record is dead-lettered), and for CSV the
// quoting and header settings of `format`, so records may span lines inside quotes.
Result<LineReader::Options> read_line_options(const ConnectorOptions& options, const FormatOptions& format,
                                              const std::string& context);

// The same for text sinks: format, delimiter, header (for CSV: write a header line,
// default true; stored in FormatOptions::csv_header).
Result<FormatOptions> read_sink_format(const ConnectorOptions& options, const std::string& context);

// Checks that a file at `path` can be created: its parent directory exists (output
// directories are not created implicitly; a typo in a path should be an error).
Status check_parent_directory(const std::string& path, const std::string& context);

// A sink's `primary_key` option: 'a, b' -> schema indices, in the given order; '' -> none
// (one global row). Unknown, empty or repeated names are errors naming the option.
// The names of a comma list option ('a, b,c'): blanks around names trimmed, duplicates
// dropped, sorted (a stable split order); an empty name is an error naming `option`.
Result<std::vector<std::string>> parse_name_list(const std::string& text, const std::string& option,
                                                 const std::string& context);

// startup_mode ('earliest' | 'latest') and bounded_mode (none | 'latest') of a message
// source whose consumer keeps its own position (Redis Streams, NATS JetStream).
struct MessageStartOptions {
  bool start_at_end = false;  // startup_mode 'latest'
  bool bounded = false;       // bounded_mode 'latest'
};
Result<MessageStartOptions> read_message_start_options(const ConnectorOptions& options, const std::string& context);

Result<std::vector<int>> parse_primary_key(const std::string& text, const Schema& schema, const std::string& context);

// How a database sink (SQLite, PostgreSQL) keys its table: `primary_key` present makes it an
// upsert table keyed by those columns ('' = one global row), absent an append table.
struct TableKey {
  bool upsert = false;
  std::vector<int> key_columns;    // schema indices; empty + upsert = one global row
  std::vector<int> value_columns;  // the other columns
  std::vector<int> all_columns;    // 0..n-1
  // "append", "upsert, single row" or "upsert on a,b".
  std::string describe(const Schema& schema) const;
  // An exactly-once (with checkpoints) table sink whose writers may run side by side, each
  // with its own commit records.
  SinkCapabilities capabilities(const Schema& schema) const;
};
Result<TableKey> read_table_key(const ConnectorOptions& options, const Schema& schema, const std::string& context);

// A double-quoted SQL identifier (quotes doubled), for SQLite and PostgreSQL statements.
std::string quote_sql_identifier(std::string_view name);

// strerror(err) without the thread-safety problems of strerror().
std::string errno_text(int err);

// Whether the output file open as `fd` is still the file at `path`: neither deleted (no
// link left) nor replaced (renamed away, another file in its place). Writing on into an
// unlinked inode would lose every row silently, so sinks check their output when they
// flush and close. `what`: "file 'out.jsonl'".
Status check_output_still_at_path(int fd, const std::string& path, const std::string& context,
                                  const std::string& what);

// The files a `path` names when it is a directory ('dir/', or an existing directory: every
// regular file whose name does not start with '.') or a glob in the file name
// ('logs/*.jsonl'): {directory, fnmatch pattern or "" for every non-hidden file}. nullopt:
// one file. Also used by the planner to refuse writing a file such a source would read.
struct FileSetPath {
  std::string dir;
  std::string pattern;
  bool matches(const std::string& name) const;
};
std::optional<FileSetPath> file_set_path(const std::string& path);

}  // namespace sluice
