// Dead-letter queue: where records that cannot be decoded or converted go, with the raw
// bytes, the error, the source name, split, byte offset and line. Nothing is dropped
// silently: every failure lands here and is counted.
//
// A DeadLetterQueue is shared by the splits of one source; write() is thread-safe.
// Destinations: a JSON-lines file (default) or a table in a SQLite database.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

struct DeadLetter {
  std::string_view source;  // source table name
  int split = 0;            // split (partition) index
  int64_t offset = -1;      // byte offset or sequence number in the split
  int64_t line = -1;        // 1-based line, -1 when not line based
  std::string_view error;
  std::string_view raw;     // the undecodable bytes
};

class DeadLetterQueue {
 public:
  virtual ~DeadLetterQueue() = default;
  virtual Status write(const DeadLetter& letter) = 0;
  virtual Status flush() = 0;
  virtual uint64_t count() const = 0;
  virtual std::string describe() const = 0;  // "file dlq.jsonl" / "sqlite out.db table dlq"
};

// `path` ending in .db/.sqlite/.sqlite3 (or `table` non-empty) selects SQLite, otherwise a
// JSON-lines file. The destination is created lazily on the first letter, so a clean run
// leaves no empty DLQ file behind.
Result<std::unique_ptr<DeadLetterQueue>> make_dead_letter_queue(const std::string& path,
                                                                const std::string& table);

}  // namespace sluice
