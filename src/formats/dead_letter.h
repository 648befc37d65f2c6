// Dead-letter queue: where records that cannot be decoded or converted go, with the raw
// bytes, the error, the source name, split, byte offset and line. Nothing is dropped
// silently: every failure lands here and is counted.
//
// A DeadLetterQueue is shared by the splits of one source; write() is thread-safe.
// Destinations: a JSON-lines file (default) or a table in a SQLite database. The same
// classes hold the late-data output (formats/late_output.h), whose entries also name the
// queries that found the record late.
//
// Side outputs as rows: every entry is one row of a fixed schema (side_output_schema()),
// built batch at a time (SideOutputRows). The source task collects the dead letters of one
// poll into one batch and hands it over in one call (write_rows), or, when the DLQ is a
// sink table (`dlq = 'bad_rows'`), sends it through a channel to that sink.
//
// Runs: the job calls begin_run() once before any write: a fresh run (no checkpoint
// resumed) discards what earlier runs wrote, so a run's files account for that run only;
// a resumed run appends (entries between the last checkpoint and a crash may repeat:
// at-least-once). Files and databases the queue creates are private to the user (0600):
// they copy raw input.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"
#include "types/record_batch.h"

namespace sluice {

struct DeadLetter {
  std::string_view source;  // source table name
  int split = 0;            // split (partition) index
  int64_t offset = -1;      // byte offset or sequence number in the split
  int64_t line = -1;        // 1-based line, -1 when not line based
  std::string_view error;
  std::string_view raw;     // the undecodable bytes
  // Message sources (Kafka): where the record sits, its key and its headers (a JSON object
  // {"name":"value",...}); topic empty otherwise.
  std::string_view topic;
  int64_t partition = -1;
  const std::string_view* key = nullptr;  // null: no key
  std::string_view headers;
  // Late-data output only: the queries (sink tables) that found the record late.
  std::vector<std::string_view> queries;
};

enum class SideOutputKind { kDeadLetters, kLateData };

// The fixed row schema of a side output: what the JSON lines hold, what a sink table named
// by `dlq` / `late_output` receives (docs/sql.md, "Dead-letter queue and late data"):
//   source TEXT, split BIGINT, offset BIGINT, line BIGINT, [queries TEXT,] error TEXT,
//   raw TEXT, time TIMESTAMP
// `queries` (late data only) is a JSON array of the queries that found the record late;
// `raw` holds the record's bytes as they were read (not necessarily UTF-8); `time` is when
// the entry was produced (milliseconds).
// With `message_columns` (dead letters of message sources such as Kafka), four more follow:
//   topic TEXT, partition BIGINT, key TEXT, headers TEXT
// where the record sits, its key (NULL: none) and its headers as a JSON object; NULL in all
// four for a letter that is not a message's.
const SchemaPtr& side_output_schema(SideOutputKind kind, bool message_columns = false);
// Column indexes in side_output_schema(kind, message_columns); queries is -1 for dead
// letters, the message columns -1 without them.
struct SideOutputColumns {
  size_t source = 0, split = 1, offset = 2, line = 3;
  int queries = -1;
  size_t error = 4, raw = 5, time = 6;
  int topic = -1, partition = -1, key = -1, headers = -1;
};
SideOutputColumns side_output_columns(SideOutputKind kind, bool message_columns = false);
// The names of the message columns, for planners matching declared columns.
bool is_side_output_message_column(std::string_view name);

// Builds side-output rows (side_output_schema(kind)) batch at a time: the dead letters of
// one poll, the late entries of one poll. One instance per task; not thread-safe.
class SideOutputRows {
 public:
  explicit SideOutputRows(SideOutputKind kind, bool message_columns = false);
  // `time`: when the entry was produced (microseconds, truncated to milliseconds here).
  void add(const DeadLetter& letter, Micros time);
  size_t size() const { return rows_->num_rows; }
  bool empty() const { return rows_->num_rows == 0; }
  // The rows added since the last take(); the builder starts a new batch.
  MutableBatchPtr take();

 private:
  SideOutputKind kind_;
  bool message_columns_;
  MutableBatchPtr rows_;
  std::string queries_;  // reused
};

class DeadLetterQueue {
 public:
  virtual ~DeadLetterQueue() = default;
  // Called once before the job's first write. `resumed` false (a fresh run): whatever an
  // earlier run left at the destination is removed (a regular file is deleted, a symlinked
  // one truncated, a SQLite table dropped; devices and pipes are left alone); true: later
  // letters are appended.
  virtual Status begin_run(bool resumed) = 0;
  virtual Status write(const DeadLetter& letter) = 0;
  // Writes rows of side_output_schema(kind) in one call (one lock, one write): the source
  // task's dead letters of one poll, the late entries of one poll.
  virtual Status write_rows(const RecordBatch& rows) = 0;
  virtual Status flush() = 0;
  virtual uint64_t count() const = 0;
  virtual std::string describe() const = 0;  // "file dlq.jsonl" / "sqlite out.db table dlq"
};

// `path` ending in .db/.sqlite/.sqlite3 (or `table` non-empty) selects a SQLite table,
// otherwise a JSON-lines file. The SQLite backend lives in the sqlite connector
// (connectors/sqlite/sqlite_dead_letter.h) so this layer does not link SQLite;
// make_dead_letter_queue (connectors/registry.h) picks the backend. Either creates its
// destination lazily on the first letter, so a clean run leaves no empty DLQ file behind.
// Whether a side output with this path and table is a database one, and the table it
// then uses when `table` is empty.
bool dead_letter_uses_sqlite(const std::string& path, const std::string& table);
const char* default_side_output_table(SideOutputKind kind);

// A JSON-lines queue; the late-data kind writes a "queries" array per line.
Result<std::unique_ptr<DeadLetterQueue>> make_file_dead_letter_queue(const std::string& path, SideOutputKind kind);

// Shared with the database backends: fails early (at job creation, creating nothing) on a
// destination that can never be opened; "dead-letter queue" / "late-data output"; a
// letter's wall-clock time (ISO-8601 UTC, ms); `queries` as a JSON array of strings.
Status check_dead_letter_destination(const std::string& path, SideOutputKind kind);
const char* side_output_kind_name(SideOutputKind kind);
std::string dead_letter_time();
void append_dead_letter_queries(std::string& out, const std::vector<std::string_view>& queries);

// Side outputs copy raw input, which may be confidential: files they create are 0600.
inline constexpr unsigned kSideOutputFileMode = 0600;

}  // namespace sluice
