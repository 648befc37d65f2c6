// LineReader: splits the bytes of a file descriptor into records, one per line (or, for
// CSV, per RFC 4180 record). The one record splitter behind the file and stdin sources.
//
// Reads in large chunks (1 MiB) into a buffer and cuts it at '\n'. Each record is one line
// without its line end (a trailing '\r' is dropped too), with the byte offset of its first
// byte and its 1-based line number. Empty and whitespace-only lines are skipped, but still
// counted, so line numbers match what an editor shows. A UTF-8 byte-order mark at the start
// of the input (offset 0) is not data: it is dropped (the first record's offset is then 3).
//
// CSV (csv_quoting): a '\n' inside a double-quoted field does not end the record, so a
// record may span several lines (the CSV sink writes such fields); its line number is that
// of its first line, and the lines it spans are counted. The quoting rules are the
// decoder's: a field is quoted when its first byte is '"', "" inside it is a quote.
//
// Ending: in bounded mode, EOF ends the input (a last line without '\n' is still a record).
// In follow mode (tailing a growing file), EOF means "nothing yet": a partial last line is
// kept back until its '\n' arrives, and poll() returns kIdle after a short wait.
//
// Limits: a record longer than max_line_bytes is not held: the reader keeps its first
// min(max_line_bytes, kOversizedPrefixBytes) bytes, skips the rest as it reads it, and
// reports it in
// RawRecords::oversized (the source task dead-letters it; reading goes on with the next
// record, offsets and line numbers unchanged). Memory stays below about max_line_bytes +
// 2 * chunk_bytes, plus the records returned.
//
// Lifecycle and threads: owned by one source reader and used only from its task thread.
// Does not own the descriptor (the caller opens and closes it). poll() never blocks longer
// than about idle_wait_ms: it waits for input with poll(2), so a slow pipe does not hang
// the task.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "connectors/source.h"
#include "formats/raw_records.h"

namespace sluice {

class LineReader {
 public:
  struct Options {
    bool follow = false;
    size_t chunk_bytes = size_t{1} << 20;
    size_t max_line_bytes = size_t{64} << 20;
    // A poll stops adding records once this many bytes are in `out`, so a batch of huge
    // lines stays bounded whatever max_records is.
    size_t max_batch_bytes = size_t{16} << 20;
    int idle_wait_ms = 20;
    // CSV: records end at a '\n' outside double quotes (see above).
    bool csv_quoting = false;
    char csv_delimiter = ',';
    // CSV whose first record is a header: a reader starting past offset 0 (a resume) first
    // returns the header record again (line 1, re-read from offset 0; the descriptor must
    // be seekable), so the decoder can still match columns by name.
    bool csv_header = false;
  };

  // `name` prefixes errors, e.g. "table clicks: file 'clicks.jsonl'". `start_offset` is the
  // byte offset of the descriptor's current position (records carry absolute offsets).
  // `start_line`: lines before `start_offset` (so line numbers stay right after a resume).
  LineReader(int fd, std::string name, Options options, int64_t start_offset = 0, int64_t start_line = 0);

  // Appends up to max_records lines to `out`. kEnd only in bounded mode.
  Result<PollStatus> poll(RawRecords& out, size_t max_records);

  // Byte offset just past the last record returned or skipped: where a restarted reader
  // would resume. A partial record held back in follow mode is not yet consumed.
  int64_t position() const { return skipping_ ? skip_offset_ : base_offset_ + static_cast<int64_t>(begin_); }
  // Complete lines consumed up to position().
  int64_t lines_consumed() const { return lines_done_; }
  // Bytes of read buffer held (tests check the memory bound).
  size_t buffer_bytes() const { return cap_; }

  // Follow mode ends (a followed file was rotated away): read to EOF, return a partial last
  // line as a record, then kEnd.
  void stop_following() { options_.follow = false; }
  // Reads nothing more (a followed file was truncated under the reader): returns the lines
  // already buffered and a partial last line as a record, then kEnd.
  void end_input() { eof_ = true; }

 private:
  enum class Fill { kData, kNoData, kEof };
  // Reads more bytes, waiting up to `timeout_ms` for a descriptor that is not readable.
  Result<Fill> fill(int timeout_ms);
  // Where a CSV record scan stands between two bytes.
  enum class CsvState : uint8_t { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };

  // Appends [b, e) as a record unless blank; returns whether a record was added.
  bool emit(size_t b, size_t e, int64_t line, RawRecords& out) const;
  // Searches [scan_, end_) for the '\n' ending the current record; true with its index in
  // *pos. Otherwise scan_ = end_ (the state is kept for the next bytes).
  bool find_record_end(size_t* pos);
  // Drops a byte-order mark at offset 0; false while too few bytes are there to decide.
  bool check_bom();
  // Starts skipping the current record (too long): keeps its first bytes.
  void start_skipping();
  // The current (skipped) record ends `tail` bytes after begin_: reports it.
  void finish_oversized(size_t tail, RawRecords& out);
  // Line 1 again, for a reader that starts past it (Options::csv_header).
  Status reread_header(RawRecords& out);

  int fd_;
  std::string name_;
  Options options_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t begin_ = 0;  // first byte of the current (unfinished) line
  size_t scan_ = 0;   // bytes before this were already searched for '\n'
  size_t end_ = 0;    // end of valid data
  int64_t base_offset_;     // source offset of buf_[0]
  int64_t lines_done_ = 0;  // complete lines consumed (returned or skipped)
  bool eof_ = false;        // bounded mode: the descriptor reported EOF
  bool done_ = false;       // bounded mode: everything returned
  bool bom_pending_;        // at offset 0: a byte-order mark may still come
  bool header_pending_;     // csv_header and started past offset 0
  CsvState csv_state_ = CsvState::kFieldStart;
  int64_t record_newlines_ = 0;  // quoted line breaks inside the current record
  // Skipping a record longer than max_line_bytes (its bytes are dropped as they come).
  bool skipping_ = false;
  int64_t skip_offset_ = 0;   // its offset
  int64_t skip_line_ = 0;     // its line
  int64_t skip_bytes_ = 0;    // its bytes dropped so far
  std::string skip_prefix_;   // its first bytes
};

}  // namespace sluice
