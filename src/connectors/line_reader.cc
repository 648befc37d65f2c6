#include "connectors/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "connectors/connector_util.h"

namespace sluice {
namespace {

bool is_blank(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char c = p[i];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

}  // namespace

LineReader::LineReader(int fd, std::string name, Options options, int64_t start_offset, int64_t start_line)
    : fd_(fd),
      name_(std::move(name)),
      options_(options),
      base_offset_(start_offset),
      lines_done_(start_line),
      bom_pending_(start_offset == 0),
      header_pending_(options.csv_header && start_offset > 0) {}

bool LineReader::emit(size_t b, size_t e, int64_t line, RawRecords& out) const {
  if (e > b && buf_[e - 1] == '\r') --e;
  if (is_blank(buf_.get() + b, e - b)) return false;
  out.append_record(std::string_view(buf_.get() + b, e - b), base_offset_ + static_cast<int64_t>(b), line);
  return true;
}

bool LineReader::check_bom() {
  static constexpr char kBom[] = "\xEF\xBB\xBF";
  const size_t have = std::min<size_t>(end_ - begin_, 3);
  if (have > 0 && std::memcmp(buf_.get() + begin_, kBom, have) != 0) {
    bom_pending_ = false;  // the usual case: not a byte-order mark
  } else if (have == 3) {
    begin_ += 3;
    scan_ = std::max(scan_, begin_);
    bom_pending_ = false;
  } else if (eof_) {
    bom_pending_ = false;  // a few bytes at the end of the input: data
  }
  return !bom_pending_;
}

bool LineReader::find_record_end(size_t* pos) {
  const char* const buf = buf_.get();
  const void* nl = std::memchr(buf + scan_, '\n', end_ - scan_);
  const size_t stop = nl != nullptr ? static_cast<size_t>(static_cast<const char*>(nl) - buf) : end_;
  if (!options_.csv_quoting ||
      ((csv_state_ == CsvState::kFieldStart || csv_state_ == CsvState::kUnquoted) &&
       std::memchr(buf + scan_, '"', stop - scan_) == nullptr)) {
    // No quote in play (JSON lines, most CSV lines): the next '\n' ends the record.
    if (nl != nullptr) {
      *pos = stop;
      csv_state_ = CsvState::kFieldStart;
      return true;
    }
    if (stop > scan_) csv_state_ = buf[stop - 1] == options_.csv_delimiter ? CsvState::kFieldStart : CsvState::kUnquoted;
    scan_ = end_;
    return false;
  }
  // A quote may change what a '\n' means: follow the CSV state byte by byte.
  const char delimiter = options_.csv_delimiter;
  CsvState state = csv_state_;
  for (size_t i = scan_; i < end_; ++i) {
    const char c = buf[i];
    switch (state) {
      case CsvState::kFieldStart:
      case CsvState::kUnquoted:
        if (c == '\n') {
          *pos = i;
          csv_state_ = CsvState::kFieldStart;
          return true;
        }
        state = c == delimiter ? CsvState::kFieldStart
                : (state == CsvState::kFieldStart && c == '"') ? CsvState::kQuoted
                                                                : CsvState::kUnquoted;
        break;
      case CsvState::kQuoted:
        if (c == '"') {
          state = CsvState::kQuoteInQuoted;
        } else if (c == '\n') {
          ++record_newlines_;
        }
        break;
      case CsvState::kQuoteInQuoted:  // a closing quote, or the first half of ""
        if (c == '\n') {
          *pos = i;
          csv_state_ = CsvState::kFieldStart;
          return true;
        }
        // After a closing quote only a delimiter is valid; anything else is the decoder's
        // error to report, the record goes on to the next unquoted '\n'.
        state = c == '"' ? CsvState::kQuoted : c == delimiter ? CsvState::kFieldStart : CsvState::kUnquoted;
        break;
    }
  }
  csv_state_ = state;
  scan_ = end_;
  return false;
}

void LineReader::start_skipping() {
  skipping_ = true;
  skip_offset_ = base_offset_ + static_cast<int64_t>(begin_);
  skip_line_ = lines_done_ + 1;
  skip_bytes_ = 0;
  // The same number of bytes whatever the read chunks were: the record is longer than both.
  skip_prefix_.assign(buf_.get() + begin_, std::min(options_.max_line_bytes, kOversizedPrefixBytes));
}

void LineReader::finish_oversized(size_t tail, RawRecords& out) {
  out.append_oversized(skip_prefix_, skip_offset_, skip_line_, skip_bytes_ + static_cast<int64_t>(tail),
                       static_cast<int64_t>(options_.max_line_bytes));
  skipping_ = false;
  skip_prefix_.clear();
}

Status LineReader::reread_header(RawRecords& out) {
  const off_t resume_at = ::lseek(fd_, 0, SEEK_CUR);
  if (resume_at < 0 || ::lseek(fd_, 0, SEEK_SET) != 0) {
    return io_error("{}: cannot read the CSV header again: {}", name_, errno_text(errno));
  }
  Options o = options_;
  o.follow = false;
  o.csv_header = false;
  LineReader first(fd_, name_, o);
  RawRecords header;
  Result<PollStatus> got = first.poll(header, 1);
  if (::lseek(fd_, resume_at, SEEK_SET) != resume_at) {
    return io_error("{}: cannot seek back to byte {}: {}", name_, static_cast<int64_t>(resume_at), errno_text(errno));
  }
  RETURN_IF_ERROR(got.status());
  // An oversized or missing first line: the first run had no header record either.
  if (!header.empty() && header.lines[0] == 1) out.append_record(header.record(0), header.offsets[0], 1);
  return Status::ok();
}

Result<LineReader::Fill> LineReader::fill(int timeout_ms) {
  if (cap_ - end_ < options_.chunk_bytes) {
    // Slide the unfinished line to the front; grow only if it alone fills the buffer.
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      base_offset_ += static_cast<int64_t>(begin_);
      end_ -= begin_;
      scan_ -= begin_;
      begin_ = 0;
    }
    if (cap_ - end_ < options_.chunk_bytes) {
      // Double, but not far past what the longest allowed line needs.
      size_t limit = options_.max_line_bytes + 2 * options_.chunk_bytes;
      size_t new_cap = std::max(std::min(cap_ * 2, limit), end_ + options_.chunk_bytes);
      auto bigger = std::make_unique<char[]>(new_cap);
      if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
      buf_ = std::move(bigger);
      cap_ = new_cap;
    }
  }
  pollfd p{fd_, POLLIN, 0};
  int ready = ::poll(&p, 1, timeout_ms);
  if (ready == 0 || (ready < 0 && errno == EINTR)) return Fill::kNoData;
  if (ready < 0) return io_error("{}: poll failed: {}", name_, errno_text(errno));
  ssize_t n = ::read(fd_, buf_.get() + end_, cap_ - end_);
  if (n > 0) {
    end_ += static_cast<size_t>(n);
    return Fill::kData;
  }
  if (n == 0) return Fill::kEof;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return Fill::kNoData;
  return io_error("{}: read failed: {}", name_, errno_text(errno));
}

Result<PollStatus> LineReader::poll(RawRecords& out, size_t max_records) {
  if (done_) return PollStatus::kEnd;
  size_t produced = 0;
  if (header_pending_) {
    header_pending_ = false;
    RETURN_IF_ERROR(reread_header(out));
    produced = out.size();
  }
  bool waited = false;  // wait at most once per poll, and only while nothing was produced
  while (produced < max_records && out.data.size() < options_.max_batch_bytes) {
    const bool decided = !bom_pending_ || check_bom();
    if (decided) {
      size_t pos = 0;
      if (scan_ < end_ && find_record_end(&pos)) {
        if (!skipping_ && pos - begin_ > options_.max_line_bytes) start_skipping();
        const int64_t line = lines_done_ + 1;
        lines_done_ += 1 + record_newlines_;
        record_newlines_ = 0;
        if (skipping_) {
          finish_oversized(pos - begin_, out);
          ++produced;
        } else if (emit(begin_, pos, line, out)) {
          ++produced;
        }
        begin_ = scan_ = pos + 1;
        continue;
      }
      // The current record is unfinished: everything after begin_ was scanned.
      if (!skipping_ && end_ - begin_ > options_.max_line_bytes) start_skipping();
      if (skipping_) {
        // Too long to hold: drop what was read of it (the CSV state is kept).
        skip_bytes_ += static_cast<int64_t>(end_ - begin_);
        begin_ = scan_ = end_;
      }
      if (eof_) {
        if (skipping_ || begin_ < end_) {
          const int64_t line = lines_done_ + 1;
          lines_done_ += 1 + record_newlines_;
          record_newlines_ = 0;
          if (skipping_) {
            finish_oversized(0, out);
            ++produced;
          } else if (emit(begin_, end_, line, out)) {
            ++produced;
          }
          begin_ = scan_ = end_;
        }
        done_ = true;
        break;
      }
    }
    bool may_wait = produced == 0 && !waited;
    ASSIGN_OR_RETURN(Fill got, fill(may_wait ? options_.idle_wait_ms : 0));
    if (got == Fill::kData) continue;
    if (got == Fill::kEof && !options_.follow) {
      eof_ = true;
      continue;
    }
    if (got == Fill::kEof && may_wait) {
      // A regular file at EOF is always "readable", so poll(2) did not wait: sleep briefly
      // and look once more, so data appended meanwhile is returned by this very call.
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.idle_wait_ms));
      waited = true;
      continue;
    }
    waited = true;
    break;
  }
  out.finish();
  if (produced > 0) return PollStatus::kData;
  return done_ ? PollStatus::kEnd : PollStatus::kIdle;
}

}  // namespace sluice
