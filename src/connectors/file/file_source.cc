#include "connectors/file/file_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "connectors/connector_util.h"
#include "connectors/line_reader.h"

namespace sluice {
namespace {

// Opens `path` for reading; a directory is refused here rather than failing on read.
Result<int> open_for_reading(const std::string& path, const std::string& context) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                  fmt::format("{}: cannot open '{}': {}", context, path, errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return io_error("{}: cannot open '{}': {}", context, path, errno_text(EISDIR));
  }
  return fd;
}

class FileSourceReader : public SourceReader {
 public:
  FileSourceReader(std::string path, std::string context, bool follow, int64_t rate)
      : path_(std::move(path)), context_(std::move(context)), follow_(follow), rate_(rate) {}
  ~FileSourceReader() override { (void)close(); }

  Status open() override {
    auto fd = open_for_reading(path_, context_);
    if (!fd.is_ok()) {
      // A followed file may be created after the job starts: poll() keeps trying.
      if (follow_ && fd.status().code() == StatusCode::kNotFound) return Status::ok();
      return fd.status();
    }
    return attach(fd.value());
  }

  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    if (!lines_) {
      auto fd = open_for_reading(path_, context_);
      if (!fd.is_ok()) {
        if (fd.status().code() != StatusCode::kNotFound) return fd.status();
        std::this_thread::sleep_for(std::chrono::milliseconds(LineReader::Options{}.idle_wait_ms));
        return PollStatus::kIdle;
      }
      RETURN_IF_ERROR(attach(fd.value()));
    }
    if (rate_ > 0) {
      // Throttled replay: at most `rate` records per second since the first poll.
      auto now = std::chrono::steady_clock::now();
      if (read_ == 0 && !started_) {
        started_ = true;
        first_poll_ = now;
      }
      double elapsed = std::chrono::duration<double>(now - first_poll_).count();
      int64_t budget = static_cast<int64_t>(elapsed * static_cast<double>(rate_)) + 1 - read_;
      if (budget <= 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return PollStatus::kIdle;
      }
      max_records = std::min(max_records, static_cast<size_t>(budget));
    }
    auto polled = lines_->poll(out, max_records);
    read_ += static_cast<int64_t>(out.size());
    return polled;
  }

  Status close() override {
    lines_.reset();
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      return io_error("{}: closing '{}' failed: {}", context_, path_, errno_text(errno));
    }
    fd_ = -1;
    return Status::ok();
  }

  int64_t position() const override { return lines_ ? lines_->position() : resume_.offset; }
  SourcePosition resume_position() const override {
    return lines_ ? SourcePosition{lines_->position(), lines_->lines_consumed()} : resume_;
  }

  Status seek(const SourcePosition& pos) override {
    if (pos.offset < 0 || pos.line < 0) return invalid_argument("{}: bad resume position {}", context_, pos.offset);
    resume_ = pos;
    if (fd_ < 0) return Status::ok();  // a followed file not created yet: applied on attach
    int fd = fd_;
    lines_.reset();
    fd_ = -1;
    return attach(fd);
  }

 private:
  Status attach(int fd) {
    fd_ = fd;
    if (::lseek(fd, static_cast<off_t>(resume_.offset), SEEK_SET) != static_cast<off_t>(resume_.offset)) {
      return io_error("{}: cannot seek '{}' to byte {}: {}", context_, path_, resume_.offset, errno_text(errno));
    }
    LineReader::Options o;
    o.follow = follow_;
    o.max_line_bytes = kMaxLineBytes;
    lines_ = std::make_unique<LineReader>(fd, fmt::format("{}: file '{}'", context_, path_), o, resume_.offset,
                                          resume_.line);
    return Status::ok();
  }

  std::string path_;
  std::string context_;
  bool follow_;
  int64_t rate_;  // records per second; 0: as fast as possible
  bool started_ = false;
  std::chrono::steady_clock::time_point first_poll_;
  int64_t read_ = 0;
  int fd_ = -1;
  SourcePosition resume_;  // where attach() starts reading
  std::unique_ptr<LineReader> lines_;
};

class FileSourceFactory : public SourceFactory {
 public:
  FileSourceFactory(std::string path, std::string context, FormatOptions format, bool follow, int64_t rate)
      : path_(std::move(path)), context_(std::move(context)), format_(std::move(format)), follow_(follow), rate_(rate) {}

  int num_splits() const override { return 1; }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    if (split != 0) return internal_error("{}: file source has one split, asked for {}", context_, split);
    return std::unique_ptr<SourceReader>(std::make_unique<FileSourceReader>(path_, context_, follow_, rate_));
  }
  const FormatOptions& format() const override { return format_; }
  bool bounded() const override { return !follow_; }
  std::string describe() const override {
    return fmt::format("file {} ({}{})", path_, format_.format, follow_ ? ", follow" : "");
  }

 private:
  std::string path_;
  std::string context_;
  FormatOptions format_;
  bool follow_;
  int64_t rate_;
};

}  // namespace

Result<std::unique_ptr<SourceFactory>> make_file_source_factory(const SourceSpec& spec) {
  const ConnectorOptions& o = spec.options;
  std::string context = table_context(o, spec.table);
  ASSIGN_OR_RETURN(std::string path, o.require_string("path"));
  ASSIGN_OR_RETURN(FormatOptions format, read_source_format(o, context));
  ASSIGN_OR_RETURN(bool follow, o.get_bool("follow", false));
  ASSIGN_OR_RETURN(int64_t rate, o.get_int("rate", 0));
  if (rate < 0) return invalid_argument("{}: option 'rate' must be >= 0 records per second, got {}", context, rate);
  RETURN_IF_ERROR(o.check_all_used());
  if (!follow) {
    // Fail at planning time, not after the job started, when a bounded input is missing.
    ASSIGN_OR_RETURN(int fd, open_for_reading(path, context));
    ::close(fd);
  }
  return std::unique_ptr<SourceFactory>(
      std::make_unique<FileSourceFactory>(std::move(path), std::move(context), std::move(format), follow, rate));
}

}  // namespace sluice
