#include "connectors/file/file_source.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "common/hash.h"
#include "common/logging.h"
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

// Follow mode: the wait at the end of the data before poll() returns kIdle.
constexpr int kIdleWaitMs = 20;
// Bytes hashed at the start of a file and just before a recorded offset.
constexpr int64_t kFingerprintWindow = 16 << 10;
// Bytes at the start of a followed file compared at every idle poll, to notice that it
// was truncated and written again beyond the read position between two polls.
constexpr size_t kHeadCheckBytes = 256;

// Hash of bytes [from, from + len) of `fd`; nullopt when the file is shorter.
std::optional<uint64_t> hash_range(int fd, int64_t from, int64_t len) {
  std::string buf(static_cast<size_t>(len), '\0');
  int64_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, buf.data() + done, static_cast<size_t>(len - done), static_cast<off_t>(from + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    done += n;
  }
  return hash_bytes(buf.data(), buf.size());
}

// What a byte offset in a file refers to, recorded with the offset in checkpoints: the
// file (device, inode), its size then, and hashes of the bytes at its start and just
// before the offset. Only bytes before the offset are covered, so a file that grew since
// (appended to, followed) still matches.
struct FileFingerprint {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  int64_t offset = 0;
  uint64_t head = 0;  // bytes [0, min(offset, window))
  uint64_t tail = 0;  // bytes [max(0, offset - window), offset)

  std::string encode() const {
    return fmt::format("dev={} ino={} size={} offset={} head={:016x} tail={:016x}", dev, ino, size, offset, head,
                       tail);
  }
  static std::optional<FileFingerprint> decode(const std::string& text) {
    FileFingerprint f;
    unsigned long long dev = 0, ino = 0, head = 0, tail = 0;
    long long size = 0, offset = 0;
    if (std::sscanf(text.c_str(), "dev=%llu ino=%llu size=%lld offset=%lld head=%llx tail=%llx", &dev, &ino, &size,
                    &offset, &head, &tail) != 6) {
      return std::nullopt;
    }
    f.dev = dev;
    f.ino = ino;
    f.size = size;
    f.offset = offset;
    f.head = head;
    f.tail = tail;
    return f;
  }
  bool same_file(const struct stat& st) const {
    return dev == static_cast<uint64_t>(st.st_dev) && ino == static_cast<uint64_t>(st.st_ino);
  }

  // The fingerprint of `fd` at `offset`; nullopt when the file cannot be read there.
  static std::optional<FileFingerprint> of(int fd, int64_t offset) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::nullopt;
    FileFingerprint f;
    f.dev = static_cast<uint64_t>(st.st_dev);
    f.ino = static_cast<uint64_t>(st.st_ino);
    f.size = static_cast<int64_t>(st.st_size);
    f.offset = offset;
    auto head = hash_range(fd, 0, std::min(offset, kFingerprintWindow));
    int64_t tail_from = std::max<int64_t>(0, offset - kFingerprintWindow);
    auto tail = hash_range(fd, tail_from, offset - tail_from);
    if (!head || !tail) {
      f.poison();  // shorter than the offset: truncated under the reader
      return f;
    }
    f.head = *head;
    f.tail = *tail;
    return f;
  }
  // Matches no file: the bytes before the offset are no longer those read.
  void poison() { head = tail = 0; }
  bool poisoned() const { return head == 0 && tail == 0; }

  // Why `fd` does not hold the recorded bytes before the offset; empty when it does.
  std::string mismatch(int fd) const {
    auto now = of(fd, offset);
    struct stat st {};
    int64_t size_now = ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
    if (size_now < offset || !now) {
      return fmt::format("it has {} bytes, fewer than the {} already read (it had {})", size_now, offset, size);
    }
    if (poisoned()) return "it was truncated or rewritten while it was read";
    if (now->head != head || now->tail != tail) {
      return fmt::format("its bytes before offset {} are not the ones read ({})", offset,
                         now->ino == ino ? std::string("rewritten in place")
                                         : fmt::format("another file: inode {} then, {} now", ino, now->ino));
    }
    return std::string();
  }
};

// A directory entry of `dir` that is the file (dev, ino), opened; -1 when there is none.
int open_by_inode(const std::string& dir, const FileFingerprint& fp) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir.empty() ? "." : dir, ec)) {
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !fp.same_file(st)) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return fd;
  }
  return -1;
}

// One split: the file at `path`. In follow mode the reader behaves like `tail -F`: when the
// path names another file (rotation: rename + a new file), it reads the old file to its end
// and then the new one from the start; when the file shrinks below what was read, or its
// first bytes change (copytruncate), it reads it again from the start. A resume position
// names the file it points into (FileFingerprint), so a restart continues in the rotated
// file when it is still in the same directory (under any name).
class FileSourceReader : public SourceReader {
 public:
  // `idle_wait_ms`: how long poll() waits at the end of a followed file's data before it
  // returns kIdle (0 for the files of a directory: the reader task polls the others).
  FileSourceReader(std::string path, std::string context, bool follow, int64_t rate, LineReader::Options lines,
                   int idle_wait_ms = kIdleWaitMs)
      : idle_wait_ms_(idle_wait_ms),
        path_(std::move(path)),
        dir_(std::filesystem::path(path_).parent_path().string()),
        context_(std::move(context)),
        follow_(follow),
        rate_(rate),
        line_options_(lines) {}
  ~FileSourceReader() override { (void)close(); }

  Status open() override {
    auto fd = open_for_reading(path_, context_);
    if (!fd.is_ok()) {
      // A followed file may be created after the job starts: poll() keeps trying.
      if (follow_ && fd.status().code() == StatusCode::kNotFound) return Status::ok();
      return fd.status();
    }
    return attach(fd.value(), resume_);
  }

  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    if (!lines_) {
      auto fd = open_for_reading(path_, context_);
      if (!fd.is_ok()) {
        if (fd.status().code() != StatusCode::kNotFound) return fd.status();
        if (idle_wait_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(idle_wait_ms_));
        return PollStatus::kIdle;
      }
      RETURN_IF_ERROR(attach(fd.value(), resume_));
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
    // Follow mode: after reaching the end of the data, look whether the file was rotated or
    // truncated before reading on (bytes read from a truncated and rewritten file at the old
    // position would be cut lines).
    if (at_end_of_data_ && !draining_) RETURN_IF_ERROR(check_replaced());
    ASSIGN_OR_RETURN(PollStatus polled, lines_->poll(out, max_records));
    read_ += static_cast<int64_t>(out.size());
    if (!follow_) return polled;
    if (draining_ && polled == PollStatus::kEnd) {
      // The old file is read to its end: continue with the file now at the path.
      RETURN_IF_ERROR(reopen_from_start());
      return PollStatus::kIdle;
    }
    if (polled == PollStatus::kData && head_.size() < kHeadCheckBytes) remember_head();
    at_end_of_data_ = polled == PollStatus::kIdle;
    if (at_end_of_data_ && idle_wait_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(idle_wait_ms_));
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
    if (!lines_) return resume_;
    SourcePosition pos{lines_->position(), lines_->lines_consumed(), std::string()};
    // Best effort: a file that cannot be stat'ed here records no fingerprint (not checked).
    if (auto fp = FileFingerprint::of(fd_, pos.offset)) {
      // Truncated and written again since the last poll: the hashes would describe the new
      // bytes, and a restart would resume in them at the old offset.
      if (follow_ && replaced_in_place()) fp->poison();
      pos.fingerprint = fp->encode();
    }
    return pos;
  }

  Status check_position(const SourcePosition& pos) override {
    ASSIGN_OR_RETURN(Located where, locate(pos));
    if (where.fd >= 0) ::close(where.fd);
    return Status::ok();
  }

  Status seek(const SourcePosition& pos) override {
    if (pos.offset < 0 || pos.line < 0) return invalid_argument("{}: bad resume position {}", context_, pos.offset);
    ASSIGN_OR_RETURN(Located where, locate(pos));
    RETURN_IF_ERROR(close());
    resume_ = where.pos;
    draining_ = where.rotated;
    if (where.rotated) log_info("{}: resuming in the rotated file (inode {}) at byte {}, then '{}' from its start",
                                context_, where.ino, where.pos.offset, path_);
    if (where.fd < 0) return Status::ok();  // a followed file not created yet: applied on attach
    RETURN_IF_ERROR(attach(where.fd, where.pos));
    if (draining_) lines_->stop_following();
    return Status::ok();
  }

 private:
  // The file a recorded position is resumed in and where.
  struct Located {
    int fd = -1;  // -1: a followed file that does not exist yet
    SourcePosition pos;
    bool rotated = false;  // fd is a file rotated away from the path: read it to its end first
    uint64_t ino = 0;
  };

  Result<Located> locate(const SourcePosition& pos) {
    Located at;
    at.pos = pos;
    auto opened = open_for_reading(path_, context_);
    if (!opened.is_ok() && !(follow_ && opened.status().code() == StatusCode::kNotFound)) return opened.status();
    int current = opened.is_ok() ? opened.value() : -1;
    if (pos.fingerprint.empty()) {  // nothing recorded (nothing read yet, or an older checkpoint)
      at.fd = current;
      return at;
    }
    auto fp = FileFingerprint::decode(pos.fingerprint);
    if (!fp || fp->offset != pos.offset) {
      if (current >= 0) ::close(current);
      return Status(StatusCode::kDataLoss,
                    fmt::format("{}: bad recorded position of '{}': '{}'", context_, path_, pos.fingerprint));
    }
    struct stat st {};
    if (current >= 0 && ::fstat(current, &st) == 0 && fp->same_file(st)) {
      std::string why = fp->mismatch(current);
      if (why.empty()) {
        at.fd = current;
        return at;
      }
      if (follow_) {
        // Truncated (copytruncate) or rewritten in place while the job was down: `tail -F`
        // reads it again from the start.
        log_warn("{}: '{}' was truncated or rewritten since the position was recorded ({}): reading it from the start",
                 context_, path_, why);
        at.fd = current;
        at.pos = SourcePosition{};
        return at;
      }
      ::close(current);
      return invalid_argument("{}: file '{}' changed since the checkpoint: {}", context_, path_, why);
    }
    // The path names another file now, or none.
    if (current >= 0 && fp->mismatch(current).empty()) {
      at.fd = current;  // the same bytes under another inode (copied back, rewritten identically)
      return at;
    }
    if (follow_) {
      int rotated = open_by_inode(dir_, *fp);
      if (rotated >= 0 && fp->mismatch(rotated).empty()) {
        if (current >= 0) ::close(current);
        at.fd = rotated;
        at.rotated = true;
        at.ino = fp->ino;
        return at;
      }
      if (rotated >= 0) ::close(rotated);
      if (current >= 0) ::close(current);
      return invalid_argument(
          "{}: file '{}' was rotated or replaced since the checkpoint and the file it was read from (inode {}) is no "
          "longer in '{}': what was written to it after byte {} cannot be read",
          context_, path_, fp->ino, dir_.empty() ? "." : dir_, pos.offset);
    }
    std::string why = current >= 0 ? fp->mismatch(current) : std::string("it does not exist");
    if (current >= 0) ::close(current);
    return invalid_argument("{}: file '{}' changed since the checkpoint: {}", context_, path_, why);
  }

  Status attach(int fd, const SourcePosition& at) {
    fd_ = fd;
    head_.clear();
    at_end_of_data_ = false;
    if (::lseek(fd, static_cast<off_t>(at.offset), SEEK_SET) != static_cast<off_t>(at.offset)) {
      return io_error("{}: cannot seek '{}' to byte {}: {}", context_, path_, at.offset, errno_text(errno));
    }
    LineReader::Options o = line_options_;
    o.follow = follow_;
    // Follow mode: poll() waits at the end of the data itself, after check_replaced().
    if (follow_) o.idle_wait_ms = 0;
    lines_ = std::make_unique<LineReader>(fd, fmt::format("{}: file '{}'", context_, path_), o, at.offset, at.line);
    return Status::ok();
  }

  // After a rotated-away or truncated file ended: the file now at the path, from its start
  // (waited for by poll() when it does not exist yet).
  Status reopen_from_start() {
    RETURN_IF_ERROR(close());
    draining_ = false;
    resume_ = SourcePosition{};
    auto fd = open_for_reading(path_, context_);
    if (!fd.is_ok()) return fd.status().code() == StatusCode::kNotFound ? Status::ok() : fd.status();
    return attach(fd.value(), resume_);
  }

  // Follow mode, at the end of the data: has the file been rotated away or truncated?
  Status check_replaced() {
    struct stat at_path {}, open_file {};
    if (::fstat(fd_, &open_file) != 0) return io_error("{}: cannot stat '{}': {}", context_, path_, errno_text(errno));
    if (::stat(path_.c_str(), &at_path) == 0 &&
        (at_path.st_dev != open_file.st_dev || at_path.st_ino != open_file.st_ino)) {
      log_info("{}: '{}' was rotated: reading the rest of the old file, then the new one", context_, path_);
      draining_ = true;
      lines_->stop_following();
      return Status::ok();
    }
    // (A path that vanished without a new file yet: keep reading the old one, the writer
    // may still append to it.)
    if (replaced_in_place()) {
      log_warn("{}: '{}' was truncated: reading it again from the start", context_, path_);
      draining_ = true;
      lines_->end_input();
    } else {
      remember_head();
    }
    return Status::ok();
  }

  // Follow mode: whether the open file was truncated or rewritten under the reader (it is
  // shorter than what was read, or its first bytes are not the ones seen).
  bool replaced_in_place() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return false;
    off_t read_to = ::lseek(fd_, 0, SEEK_CUR);
    if (read_to >= 0 && st.st_size < read_to) return true;
    if (head_.empty()) return false;
    char buf[kHeadCheckBytes];
    ssize_t got = ::pread(fd_, buf, head_.size(), 0);
    return got != static_cast<ssize_t>(head_.size()) || std::memcmp(buf, head_.data(), head_.size()) != 0;
  }
  // Remembers the first bytes of the open file read so far (kHeadCheckBytes at most).
  void remember_head() {
    off_t read_to = ::lseek(fd_, 0, SEEK_CUR);
    size_t want = std::min(kHeadCheckBytes, static_cast<size_t>(std::max<off_t>(read_to, 0)));
    if (want <= head_.size()) return;
    char buf[kHeadCheckBytes];
    ssize_t got = ::pread(fd_, buf, want, 0);
    if (got > static_cast<ssize_t>(head_.size())) head_.assign(buf, static_cast<size_t>(got));
  }

  int idle_wait_ms_;
  std::string path_;
  std::string dir_;  // where a rotated file is looked for after a restart
  std::string context_;
  bool follow_;
  int64_t rate_;  // records per second; 0: as fast as possible
  LineReader::Options line_options_;
  bool started_ = false;
  std::chrono::steady_clock::time_point first_poll_;
  int64_t read_ = 0;
  int fd_ = -1;
  SourcePosition resume_;  // where attach() starts reading
  std::unique_ptr<LineReader> lines_;
  // Follow mode: reading the open file to its end (it was rotated away or truncated); the
  // file at the path is opened from the start next.
  bool draining_ = false;
  bool at_end_of_data_ = false;  // the last poll found no new data
  std::string head_;  // the first bytes of the open file seen so far (kHeadCheckBytes at most)
};

// The files a directory or glob path names: regular files of `dir` whose name matches
// `pattern` (every non-hidden file when the path is a directory), in name order.
struct FileSet {
  std::string dir;
  std::string pattern;  // fnmatch(3) pattern of the file name; empty: every non-hidden file

  Result<std::vector<std::string>> list(const std::string& context) const {
    std::vector<std::string> names;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) return io_error("{}: cannot list directory '{}': {}", context, dir, ec.message());
    for (const auto& e : it) {
      std::string name = e.path().filename().string();
      if (!FileSetPath{dir, pattern}.matches(name)) continue;
      std::error_code type_ec;
      if (!e.is_regular_file(type_ec)) continue;
      names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

// Splits of a directory or glob source: one per file, numbered in discovery order (name
// order within one listing). Bounded: one listing at the start. Follow: listed again every
// discovery interval; files that appeared are added (a file is never taken away).
class FileSetEnumerator : public SplitEnumerator {
 public:
  FileSetEnumerator(FileSet files, std::string context, bool follow, Micros interval)
      : files_(std::move(files)), context_(std::move(context)), follow_(follow), interval_(interval) {}

  Status restore(const std::vector<SourceSplit>& recorded, std::string_view state) override {
    for (const auto& s : recorded) {
      known_.insert(s.id);
      next_number_ = std::max(next_number_, s.number + 1);
    }
    return Status::ok();
  }
  Result<SplitChanges> discover() override {
    SplitChanges changes;
    changes.complete = !follow_;
    auto names = files_.list(context_);
    if (!names.is_ok()) {
      // A followed directory may appear later; a bounded one was checked at planning.
      if (follow_) return changes;
      return names.status();
    }
    for (auto& name : names.value()) {
      if (!known_.insert(name).second) continue;
      changes.added.push_back(SourceSplit{name, next_number_++, std::string()});
    }
    return changes;
  }
  Micros discovery_interval() const override { return follow_ ? interval_ : 0; }

 private:
  FileSet files_;
  std::string context_;
  bool follow_;
  Micros interval_;
  std::set<std::string> known_;
  int next_number_ = 0;
};

class FileSourceFactory : public SourceFactory {
 public:
  FileSourceFactory(std::string path, std::optional<FileSet> files, std::string context, FormatOptions format,
                    bool follow, int64_t rate, LineReader::Options lines, Micros discovery_interval)
      : path_(std::move(path)),
        files_(std::move(files)),
        context_(std::move(context)),
        format_(std::move(format)),
        follow_(follow),
        rate_(rate),
        line_options_(lines),
        discovery_interval_(discovery_interval) {}

  int num_splits() const override { return 1; }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    if (split != 0 || files_) return internal_error("{}: file source has one split, asked for {}", context_, split);
    return std::unique_ptr<SourceReader>(std::make_unique<FileSourceReader>(path_, context_, follow_, rate_, line_options_));
  }
  Result<std::unique_ptr<SplitEnumerator>> create_enumerator() override {
    if (!files_) return SourceFactory::create_enumerator();
    return std::unique_ptr<SplitEnumerator>(
        std::make_unique<FileSetEnumerator>(*files_, context_, follow_, discovery_interval_));
  }
  Result<std::unique_ptr<SourceReader>> create_split_reader(const SourceSplit& split) override {
    if (!files_) return create_reader(split.number);
    std::string path = (std::filesystem::path(files_->dir) / split.id).string();
    return std::unique_ptr<SourceReader>(
        std::make_unique<FileSourceReader>(path, context_, follow_, rate_, line_options_, /*idle_wait_ms=*/0));
  }
  int default_readers() const override { return 1; }
  // A directory's files are read one after the other in name order (logs rotated by time
  // read in time order); followed files are tailed side by side.
  bool reads_splits_in_order() const override { return files_ && !follow_; }
  const FormatOptions& format() const override { return format_; }
  bool bounded() const override { return !follow_; }
  std::string describe() const override {
    return fmt::format("file{} {} ({}{})", files_ ? "s" : "", path_, format_.format, follow_ ? ", follow" : "");
  }
  // The path as resolved: the real directory (symbolic links and relative paths resolved)
  // and the file name, which may not exist yet (follow) and may be rotated; for a directory
  // or glob, the real directory and the pattern.
  std::string identity() const override {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (files_) {
      fs::path dir = fs::absolute(files_->dir, ec).lexically_normal();
      fs::path real = fs::canonical(dir, ec);
      return "files " + (ec ? dir.string() : real.string()) + "/" + (files_->pattern.empty() ? "*" : files_->pattern);
    }
    fs::path p = fs::absolute(path_, ec).lexically_normal();
    fs::path dir = fs::canonical(p.parent_path(), ec);
    return "file " + (ec ? p.string() : (dir / p.filename()).string());
  }

 private:
  std::string path_;
  std::optional<FileSet> files_;  // set: a directory or glob
  std::string context_;
  FormatOptions format_;
  bool follow_;
  int64_t rate_;
  LineReader::Options line_options_;
  Micros discovery_interval_;
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
  ASSIGN_OR_RETURN(LineReader::Options lines, read_line_options(o, format, context));
  ASSIGN_OR_RETURN(Micros discovery_interval, o.get_duration("discovery_interval", kMicrosPerSecond));
  if (discovery_interval < 10 * kMicrosPerMilli) {
    return invalid_argument("{}: option 'discovery_interval' must be at least 10ms, got {}", context,
                            format_duration(discovery_interval));
  }
  RETURN_IF_ERROR(o.check_all_used());
  std::optional<FileSet> files;
  if (auto set = file_set_path(path)) files = FileSet{set->dir, set->pattern};
  if (std::filesystem::path(path).parent_path().string().find_first_of("*?[") != std::string::npos) {
    return invalid_argument("{}: option 'path': a pattern may only be in the file name, not in the directory ('{}')",
                            context, path);
  }
  if (!follow) {
    // Fail at planning time, not after the job started, when a bounded input is missing.
    if (files) {
      RETURN_IF_ERROR(files->list(context).status());
    } else {
      ASSIGN_OR_RETURN(int fd, open_for_reading(path, context));
      ::close(fd);
    }
  }
  return std::unique_ptr<SourceFactory>(std::make_unique<FileSourceFactory>(
      std::move(path), std::move(files), std::move(context), std::move(format), follow, rate, lines,
      discovery_interval));
}

}  // namespace sluice
