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
    : fd_(fd), name_(std::move(name)), options_(options), base_offset_(start_offset), lines_done_(start_line) {}

Status LineReader::line_too_long(int64_t line) const {
  return invalid_argument("{} line {}: line is longer than the limit of {} bytes", name_, line,
                          options_.max_line_bytes);
}

bool LineReader::emit(size_t b, size_t e, int64_t line, RawRecords& out) const {
  if (e > b && buf_[e - 1] == '\r') --e;
  if (is_blank(buf_.get() + b, e - b)) return false;
  out.append_record(std::string_view(buf_.get() + b, e - b), base_offset_ + static_cast<int64_t>(b), line);
  return true;
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
  bool waited = false;  // wait at most once per poll, and only while nothing was produced
  while (produced < max_records && out.data.size() < options_.max_batch_bytes) {
    if (scan_ < end_) {
      const void* nl = std::memchr(buf_.get() + scan_, '\n', end_ - scan_);
      if (nl != nullptr) {
        size_t pos = static_cast<size_t>(static_cast<const char*>(nl) - buf_.get());
        ++lines_done_;
        if (pos - begin_ > options_.max_line_bytes) return line_too_long(lines_done_);
        if (emit(begin_, pos, lines_done_, out)) ++produced;
        begin_ = scan_ = pos + 1;
        continue;
      }
      scan_ = end_;
    }
    if (end_ - begin_ > options_.max_line_bytes) return line_too_long(lines_done_ + 1);
    if (eof_) {
      if (begin_ < end_) {
        ++lines_done_;
        if (emit(begin_, end_, lines_done_, out)) ++produced;
        begin_ = scan_ = end_;
      }
      done_ = true;
      break;
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
