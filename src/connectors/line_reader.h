// LineReader: splits the bytes of a file descriptor into line records. The one line
// splitter behind the file and stdin sources.
//
// Reads in large chunks (1 MiB) into a buffer and cuts it at '\n'. Each record is one line
// without its line end (a trailing '\r' is dropped too), with the byte offset of the line
// start and its 1-based line number. Empty and whitespace-only lines are skipped, but
// still counted, so line numbers match what an editor shows.
//
// Ending: in bounded mode, EOF ends the input (a last line without '\n' is still a record).
// In follow mode (tailing a growing file), EOF means "nothing yet": a partial last line is
// kept back until its '\n' arrives, and poll() returns kIdle after a short wait.
//
// Limits: a line longer than max_line_bytes is an error naming the line, so a file
// without line breaks cannot make the reader buffer it all. Memory stays below about
// max_line_bytes + chunk_bytes, plus the records returned.
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
  };

  // `name` prefixes errors, e.g. "table clicks: file 'clicks.jsonl'". `start_offset` is the
  // byte offset of the descriptor's current position (records carry absolute offsets).
  // `start_line`: lines before `start_offset` (so line numbers stay right after a resume).
  LineReader(int fd, std::string name, Options options, int64_t start_offset = 0, int64_t start_line = 0);

  // Appends up to max_records lines to `out`. kEnd only in bounded mode.
  Result<PollStatus> poll(RawRecords& out, size_t max_records);

  // Byte offset just past the last line returned or skipped: where a restarted reader
  // would resume. A partial line held back in follow mode is not yet consumed.
  int64_t position() const { return base_offset_ + static_cast<int64_t>(begin_); }
  // Complete lines consumed up to position().
  int64_t lines_consumed() const { return lines_done_; }

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
  // Appends [b, e) as a record unless blank; returns whether a record was added.
  bool emit(size_t b, size_t e, int64_t line, RawRecords& out) const;
  Status line_too_long(int64_t line) const;

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
};

}  // namespace sluice
