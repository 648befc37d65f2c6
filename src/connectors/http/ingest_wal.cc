#include "connectors/http/ingest_wal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "common/logging.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'S', 'L', 'W', 'A', 'L', '0', '0', '1'};
constexpr const char* kIdFile = "WAL_ID";
constexpr const char* kLockFile = "LOCK";
constexpr const char* kSuffix = ".wal";
constexpr uint32_t kMaxRecordBytes = 1u << 30;
constexpr size_t kReadChunkBytes = 1 << 20;

template <typename T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
template <typename T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

uint64_t record_hash(const char* type_and_payload, uint32_t payload_len) {
  return XXH3_64bits_withSeed(type_and_payload, size_t{payload_len} + 1, payload_len);
}

std::string errno_text() { return std::strerror(errno); }

Status write_all(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write-ahead log: cannot write '{}': {}", path, errno_text());
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::ok();
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("write-ahead log: cannot open directory '{}': {}", dir, errno_text());
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("write-ahead log: cannot sync directory '{}': {}", dir, errno_text());
  return Status::ok();
}

std::string segment_path(const std::string& dir, int64_t base) { return fmt::format("{}/{:020}{}", dir, base, kSuffix); }

// The base offset named by a segment file name, or -1.
int64_t segment_base(const std::string& name) {
  if (name.size() != 20 + std::strlen(kSuffix) || name.compare(20, std::string::npos, kSuffix) != 0) return -1;
  if (!std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoll(name.substr(0, 20));
}

Result<std::string> load_or_create_id(const std::string& dir) {
  const std::string path = dir + "/" + kIdFile;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("write-ahead log: cannot read '{}': {}", path, errno_text());
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ::close(fd);
    std::string id(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (id.size() != 32 || !std::all_of(id.begin(), id.end(), [](char c) { return std::isxdigit(c); })) {
      return Status(StatusCode::kDataLoss, fmt::format("write-ahead log: '{}' does not hold a log id", path));
    }
    return id;
  }
  std::random_device device;
  std::string id;
  for (int i = 0; i < 4; ++i) id += fmt::format("{:08x}", device());
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("write-ahead log: cannot create '{}': {}", tmp, errno_text());
  Status w = write_all(fd, (id + "\n").data(), id.size() + 1, tmp);
  if (w.is_ok() && ::fsync(fd) != 0) w = io_error("write-ahead log: cannot sync '{}': {}", tmp, errno_text());
  ::close(fd);
  RETURN_IF_ERROR(w);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return io_error("write-ahead log: cannot rename '{}': {}", tmp, errno_text());
  }
  RETURN_IF_ERROR(fsync_dir(dir));
  return id;
}

}  // namespace

// ---------------------------------------------------------------------------- WalBatch

void WalBatch::add(uint8_t type, std::string_view a, std::string_view b) {
  const uint32_t len = static_cast<uint32_t>(a.size() + b.size());
  put<uint32_t>(bytes_, len);
  const size_t hash_at = bytes_.size();
  put<uint64_t>(bytes_, 0);
  bytes_.push_back(static_cast<char>(type));
  bytes_.append(a.data(), a.size());
  bytes_.append(b.data(), b.size());
  const uint64_t h = record_hash(bytes_.data() + hash_at + 8, len);
  std::memcpy(bytes_.data() + hash_at, &h, sizeof(h));
  ++records_;
}

void WalBatch::add_event(std::string_view json) { add(IngestWal::kEventRecord, json); }

void WalBatch::add_refused(int status, std::string_view reason, int64_t body_size, std::string_view body_prefix) {
  std::string head;
  put<uint16_t>(head, static_cast<uint16_t>(status));
  put<uint32_t>(head, static_cast<uint32_t>(reason.size()));
  head.append(reason.data(), reason.size());
  put<int64_t>(head, body_size);
  add(IngestWal::kRefusedRecord, head, body_prefix.substr(0, std::min(body_prefix.size(), kOversizedPrefixBytes)));
}

// ---------------------------------------------------------------------------- IngestWal

struct IngestWal::File {
  explicit File(int f) : fd(f) {}
  ~File() { ::close(fd); }
  int fd;
};

IngestWal::IngestWal(IngestWalOptions options, int lock_fd) : options_(std::move(options)), lock_fd_(lock_fd) {}

IngestWal::~IngestWal() {
  active_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // drops the flock
}

Result<std::unique_ptr<IngestWal>> IngestWal::open(const IngestWalOptions& options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return io_error("write-ahead log: cannot create directory '{}': {}", options.dir, ec.message());
  const std::string lock_path = options.dir + "/" + kLockFile;
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return io_error("write-ahead log: cannot open '{}': {}", lock_path, errno_text());
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return Status(StatusCode::kUnavailable,
                  fmt::format("write-ahead log '{}' is in use by another process", options.dir));
  }
  std::unique_ptr<IngestWal> wal(new IngestWal(options, lock_fd));
  ASSIGN_OR_RETURN(wal->id_, load_or_create_id(options.dir));
  RETURN_IF_ERROR(wal->recover());
  return wal;
}

Status IngestWal::recover() {
  std::vector<int64_t> bases;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    const int64_t base = segment_base(e.path().filename().string());
    if (base >= 0) bases.push_back(base);
  }
  if (ec) return io_error("write-ahead log: cannot list '{}': {}", options_.dir, ec.message());
  std::sort(bases.begin(), bases.end());
  int64_t end = 0;
  for (size_t i = 0; i < bases.size(); ++i) {
    const std::string path = segment_path(options_.dir, bases[i]);
    int fd = ::open(path.c_str(), i + 1 == bases.size() ? O_RDWR | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("write-ahead log: cannot open '{}': {}", path, errno_text());
    std::unique_ptr<File> file = std::make_unique<File>(fd);
    struct stat st{};
    if (::fstat(fd, &st) != 0) return io_error("write-ahead log: cannot stat '{}': {}", path, errno_text());
    const int64_t size = st.st_size;
    char header[kSegmentHeaderBytes];
    const bool last = i + 1 == bases.size();
    if (size < static_cast<int64_t>(kSegmentHeaderBytes) ||
        ::pread(fd, header, sizeof(header), 0) != static_cast<ssize_t>(sizeof(header)) ||
        std::memcmp(header, kMagic, sizeof(kMagic)) != 0 || get<int64_t>(header + 8) != bases[i]) {
      if (last && size < static_cast<int64_t>(kSegmentHeaderBytes)) {
        // Created when the process died, before its header was durable: it holds nothing.
        file.reset();
        ::unlink(path.c_str());
        bases.pop_back();
        break;
      }
      return Status(StatusCode::kDataLoss, fmt::format("write-ahead log: '{}' has no valid segment header", path));
    }
    if (i > 0 && bases[i] != end) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("write-ahead log: '{}' starts at offset {}, but the segment before it ends at {}", path,
                                bases[i], end));
    }
    int64_t valid = size;
    if (last) {
      // Scans the records of the last segment: a torn one at its end was never acknowledged.
      IngestWal probe_owner(options_, -1);
      probe_owner.segments_.push_back(Segment{bases[i], path, bases[i] + size - static_cast<int64_t>(kSegmentHeaderBytes)});
      probe_owner.durable_end_.store(probe_owner.segments_.back().end);
      IngestWalReader probe(probe_owner, bases[i]);
      RawRecords scratch;
      Status scanned = Status::ok();
      while (true) {
        scratch.clear();
        auto n = probe.read(scratch, 4096);
        if (!n.is_ok()) scanned = n.status();
        if (!n.is_ok() || n.value() == 0) break;
      }
      valid = probe.offset() - bases[i] + static_cast<int64_t>(kSegmentHeaderBytes);
      if (!scanned.is_ok()) {
        // Only a record that reaches the end of the file can be a torn write; damage with
        // records after it is not cut off silently.
        char rh[kRecordHeaderBytes];
        if (valid + static_cast<int64_t>(kRecordHeaderBytes) <= size &&
            ::pread(fd, rh, sizeof(rh), valid) == static_cast<ssize_t>(sizeof(rh)) &&
            valid + static_cast<int64_t>(kRecordHeaderBytes) + get<uint32_t>(rh) < size) {
          return scanned;
        }
      }
      if (valid < size) {
        log_warn("write-ahead log: cutting {} bytes of a torn record (never acknowledged) at the end of '{}'",
                 size - valid, path);
        if (::ftruncate(fd, valid) != 0 || ::fdatasync(fd) != 0) {
          return io_error("write-ahead log: cannot truncate '{}': {}", path, errno_text());
        }
      }
    }
    end = bases[i] + valid - static_cast<int64_t>(kSegmentHeaderBytes);
    segments_.push_back(Segment{bases[i], path, end});
  }
  if (!segments_.empty() && segments_.back().base == end) {
    // An empty last segment: the new one takes its place (and name).
    ::unlink(segments_.back().path.c_str());
    segments_.pop_back();
  }
  std::lock_guard<std::mutex> lock(mu_);
  written_end_ = end;
  durable_end_.store(end, std::memory_order_release);
  return start_segment_locked(end);
}

Status IngestWal::start_segment_locked(int64_t base) {
  const std::string path = segment_path(options_.dir, base);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("write-ahead log: cannot create '{}': {}", path, errno_text());
  auto file = std::make_shared<File>(fd);
  std::string header(kMagic, sizeof(kMagic));
  put<int64_t>(header, base);
  RETURN_IF_ERROR(write_all(fd, header.data(), header.size(), path));
  if (::fdatasync(fd) != 0) return io_error("write-ahead log: cannot sync '{}': {}", path, errno_text());
  RETURN_IF_ERROR(fsync_dir(options_.dir));
  active_ = std::move(file);
  segments_.push_back(Segment{base, path, -1});
  return Status::ok();
}

Status IngestWal::seal_active_locked() {
  if (::fdatasync(active_->fd) != 0) {
    return io_error("write-ahead log: cannot sync '{}': {}", segments_.back().path, errno_text());
  }
  segments_.back().end = written_end_;
  durable_end_.store(written_end_, std::memory_order_release);
  synced_.notify_all();
  return start_segment_locked(written_end_);
}

Status IngestWal::append(const WalBatch& batch) {
  if (batch.records() == 0) return Status::ok();
  std::unique_lock<std::mutex> lock(mu_);
  if (!failure_.is_ok()) return failure_;
  const std::string& bytes = batch.bytes();
  Status w = write_all(active_->fd, bytes.data(), bytes.size(), segments_.back().path);
  if (!w.is_ok()) {
    failure_ = w;
    synced_.notify_all();
    return w;
  }
  written_end_ += static_cast<int64_t>(bytes.size());
  const int64_t mine = written_end_;
  if (written_end_ - segments_.back().base >= options_.segment_bytes) {
    Status sealed = seal_active_locked();
    if (!sealed.is_ok()) {
      failure_ = sealed;
      synced_.notify_all();
      return sealed;
    }
  }
  // Group commit: one thread syncs for everything written so far; the others wait for it.
  while (durable_end_.load(std::memory_order_relaxed) < mine) {
    if (!failure_.is_ok()) return failure_;
    if (syncing_) {
      synced_.wait(lock);
      continue;
    }
    syncing_ = true;
    const int64_t target = written_end_;
    std::shared_ptr<File> file = active_;  // stays open if the segment is sealed meanwhile
    const std::string path = segments_.back().path;
    lock.unlock();
    const int rc = ::fdatasync(file->fd);
    const std::string err = rc != 0 ? errno_text() : std::string();
    lock.lock();
    syncing_ = false;
    if (rc != 0) {
      failure_ = io_error("write-ahead log: cannot sync '{}': {}", path, err);
    } else if (target > durable_end_.load(std::memory_order_relaxed)) {
      durable_end_.store(target, std::memory_order_release);
    }
    synced_.notify_all();
  }
  return Status::ok();
}

int64_t IngestWal::start() const {
  std::lock_guard<std::mutex> lock(mu_);
  return segments_.empty() ? 0 : segments_.front().base;
}

Status IngestWal::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

Status IngestWal::release_before(int64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  while (segments_.size() > 1 && segments_.front().end >= 0 && segments_.front().end <= offset) {
    if (::unlink(segments_.front().path.c_str()) != 0 && errno != ENOENT) {
      return io_error("write-ahead log: cannot delete '{}': {}", segments_.front().path, errno_text());
    }
    segments_.pop_front();
  }
  return Status::ok();
}

void IngestWal::wait_for_data(int64_t offset, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  synced_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return durable_end_.load(std::memory_order_relaxed) > offset || !failure_.is_ok();
  });
}

Result<IngestWal::Segment> IngestWal::segment_at(int64_t offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (segments_.empty() || offset < segments_.front().base) {
    return not_found("write-ahead log '{}': offset {} was deleted (the log starts at {})", options_.dir, offset,
                     segments_.empty() ? 0 : segments_.front().base);
  }
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    if (it->base <= offset) {
      if (it->end >= 0 && offset > it->end) break;
      return *it;
    }
  }
  return not_found("write-ahead log '{}': offset {} is past its end", options_.dir, offset);
}

// ---------------------------------------------------------------------------- IngestWalReader

IngestWalReader::~IngestWalReader() { close_segment(); }

void IngestWalReader::close_segment() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
  used_ = 0;
}

void IngestWalReader::seek(int64_t offset) {
  close_segment();
  offset_ = offset;
}

Status IngestWalReader::open_segment() {
  ASSIGN_OR_RETURN(segment_, wal_.segment_at(offset_));
  fd_ = ::open(segment_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return io_error("write-ahead log: cannot open '{}': {}", segment_.path, errno_text());
  buf_.clear();
  used_ = 0;
  buf_pos_ = static_cast<int64_t>(IngestWal::kSegmentHeaderBytes) + (offset_ - segment_.base);
  return Status::ok();
}

Result<bool> IngestWalReader::fill(size_t need, int64_t limit) {
  size_t have = buf_.size() - used_;
  if (have >= need) return true;
  if (used_ > 0) {
    buf_.erase(0, used_);
    buf_pos_ += static_cast<int64_t>(used_);
    used_ = 0;
  }
  const int64_t file_end = buf_pos_ + static_cast<int64_t>(buf_.size());
  const int64_t room = limit - file_end;
  if (room < static_cast<int64_t>(need - have)) return false;
  const size_t want = static_cast<size_t>(std::min<int64_t>(room, std::max(need - have, kReadChunkBytes)));
  const size_t old = buf_.size();
  buf_.resize(old + want);
  size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(fd_, buf_.data() + old + got, want - got, file_end + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      buf_.resize(old + got);
      return io_error("write-ahead log: cannot read '{}': {}", segment_.path, errno_text());
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf_.resize(old + got);
  return buf_.size() - used_ >= need;
}

Result<size_t> IngestWalReader::read(RawRecords& out, size_t max_records) {
  size_t n = 0;
  while (n < max_records) {
    const int64_t durable = wal_.durable_end();
    if (offset_ >= durable) break;
    if (fd_ < 0) RETURN_IF_ERROR(open_segment());
    if (segment_.end < 0) {
      // Sealed since it was opened? Then its end is known and the next segment follows.
      ASSIGN_OR_RETURN(IngestWal::Segment now, wal_.segment_at(segment_.base));
      segment_.end = now.end;
    }
    const int64_t seg_limit = segment_.end >= 0 ? std::min(segment_.end, durable) : durable;
    if (offset_ >= seg_limit) {
      if (segment_.end >= 0 && offset_ >= segment_.end) {
        close_segment();  // read to its end: on to the next segment
        continue;
      }
      break;
    }
    const int64_t file_limit = static_cast<int64_t>(IngestWal::kSegmentHeaderBytes) + (seg_limit - segment_.base);
    const auto damaged = [&](std::string_view what) {
      return Status(StatusCode::kDataLoss,
                    fmt::format("write-ahead log: '{}' offset {}: {}", segment_.path, offset_, what));
    };
    ASSIGN_OR_RETURN(bool has_header, fill(IngestWal::kRecordHeaderBytes, file_limit));
    if (!has_header) return damaged("a record header runs past the end of the log");
    const char* h = buf_.data() + used_;
    const uint32_t len = get<uint32_t>(h);
    if (len > kMaxRecordBytes) return damaged(fmt::format("impossible record length {}", len));
    const size_t whole = IngestWal::kRecordHeaderBytes + len;
    ASSIGN_OR_RETURN(bool has_record, fill(whole, file_limit));
    if (!has_record) return damaged(fmt::format("a record of {} bytes runs past the end of the log", len));
    h = buf_.data() + used_;
    if (record_hash(h + 12, len) != get<uint64_t>(h + 4)) return damaged("a record fails its checksum");
    const uint8_t type = static_cast<uint8_t>(h[12]);
    const std::string_view payload(h + 13, len);
    if (type == IngestWal::kEventRecord) {
      out.append_record(payload, offset_, -1);
    } else if (type == IngestWal::kRefusedRecord) {
      if (payload.size() < 2 + 4 + 8) return damaged("a refused-request record is too short");
      const uint16_t status = get<uint16_t>(payload.data());
      const uint32_t reason_len = get<uint32_t>(payload.data() + 2);
      if (payload.size() < 2 + 4 + size_t{reason_len} + 8) return damaged("a refused-request record is too short");
      const std::string_view reason = payload.substr(6, reason_len);
      const int64_t body_size = get<int64_t>(payload.data() + 6 + reason_len);
      const std::string_view prefix = payload.substr(6 + reason_len + 8);
      reason_ = fmt::format("HTTP {}: {}", status, reason);
      out.append_refused(prefix, offset_, -1, body_size, reason_);
    } else {
      return damaged(fmt::format("unknown record type {}", type));
    }
    used_ += whole;
    offset_ += static_cast<int64_t>(whole);
    ++n;
  }
  return n;
}

}  // namespace sluice
