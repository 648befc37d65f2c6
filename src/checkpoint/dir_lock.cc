#include "checkpoint/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace sluice {
namespace {

namespace fs = std::filesystem;

// The pid written in the lock file; 0 when it is empty or not a number.
pid_t read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  long pid = std::strtol(buf, nullptr, 10);
  return pid > 0 ? static_cast<pid_t>(pid) : 0;
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// Whether process `pid` has the file `lock` open (one of its /proc/PID/fd entries).
Result<bool> has_open(pid_t pid, const struct stat& lock) {
  std::error_code ec;
  fs::directory_iterator it(fmt::format("/proc/{}/fd", pid), ec);
  if (ec) return io_error("cannot inspect pid {}: {}", pid, ec.message());
  for (const auto& e : it) {
    struct stat st {};
    if (::stat(e.path().c_str(), &st) == 0 && same_file(st, lock)) return true;
  }
  return false;
}

std::string exe_name(const std::string& link) {
  std::error_code ec;
  std::string target = fs::read_symlink(link, ec).string();
  if (ec) return std::string();
  const std::string deleted = " (deleted)";  // the binary was rebuilt while running
  if (target.size() > deleted.size() && target.compare(target.size() - deleted.size(), deleted.size(), deleted) == 0) {
    target.resize(target.size() - deleted.size());
  }
  return fs::path(target).filename().string();
}

// Whether `pid` runs a sluice binary with a `run` command.
bool is_sluice_run(pid_t pid) {
  std::string exe = exe_name(fmt::format("/proc/{}/exe", pid));
  if (exe.empty() || (exe != "sluice" && exe != exe_name("/proc/self/exe"))) return false;
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string cmdline = ss.str();
  for (size_t b = 0; b < cmdline.size();) {
    size_t e = cmdline.find('\0', b);
    if (e == std::string::npos) e = cmdline.size();
    if (cmdline.compare(b, e - b, "run") == 0) return true;
    b = e + 1;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<CheckpointDirLock>> CheckpointDirLock::acquire(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error("cannot create checkpoint directory '{}': {}", dir, ec.message());
  const std::string path = dir + "/" + kCheckpointPidFile;
  // A releasing holder deletes the file under its lock: retry when the locked file is no
  // longer the one at the path.
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("cannot open '{}': {}", path, std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      pid_t holder = read_pid(fd);
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status(StatusCode::kInvalidArgument,
                      fmt::format("checkpoint directory '{}' is in use by another job ({} holds the lock on {})", dir,
                                  holder > 0 ? fmt::format("pid {}", holder) : std::string("a process"), path));
      }
      return io_error("cannot lock '{}': {}", path, std::strerror(err));
    }
    struct stat locked {}, now {};
    if (::fstat(fd, &locked) != 0 || ::stat(path.c_str(), &now) != 0 || !same_file(locked, now)) {
      ::close(fd);
      continue;
    }
    std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      int err = errno;
      ::close(fd);
      return io_error("cannot write '{}': {}", path, std::strerror(err));
    }
    return std::unique_ptr<CheckpointDirLock>(new CheckpointDirLock(path, fd));
  }
  return io_error("cannot lock '{}': the file keeps being replaced", path);
}

CheckpointDirLock::~CheckpointDirLock() {
  // Delete before unlocking: whoever locks the old file next sees it is gone and retries.
  ::unlink(path_.c_str());
  ::close(fd_);
}

Result<pid_t> CheckpointDirLock::running_job(const std::string& dir) {
  const std::string path = dir + "/" + kCheckpointPidFile;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return not_found("no job is running on {} ({} does not exist)", dir, path);
    return io_error("cannot open '{}': {}", path, std::strerror(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  pid_t pid = read_pid(fd);
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
    if (pid > 0) return not_found("no job is running on {} (stale {}: pid {} does not hold its lock)", dir, path, pid);
    return not_found("no job is running on {} ({} is not locked)", dir, path);
  }
  if (errno != EWOULDBLOCK) return io_error("cannot check the lock on '{}': {}", path, std::strerror(errno));
  // The holder writes its pid right after locking: give it a moment.
  for (int i = 0; i < 50 && pid <= 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    pid = read_pid(fd);
  }
  if (pid <= 0) return io_error("{} is locked but names no pid", path);
  struct stat lock {};
  if (::fstat(fd, &lock) != 0) return io_error("cannot stat '{}': {}", path, std::strerror(errno));
  ASSIGN_OR_RETURN(bool open, has_open(pid, lock));
  if (!open) return invalid_argument("{} names pid {}, but that process does not hold the lock", path, pid);
  if (!is_sluice_run(pid)) return invalid_argument("pid {} (holding {}) is not a `sluice run` process", pid, path);
  return pid;
}

}  // namespace sluice
