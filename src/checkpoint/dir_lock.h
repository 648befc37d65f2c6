// CheckpointDirLock: at most one job per checkpoint directory, and a reliable way to find
// the job that runs on one.
//
// A running job holds an exclusive flock(2) on DIR/sluice.pid, which contains its pid, for
// its whole run. A second job on the same directory is refused with the holder's pid
// instead of interleaving its checkpoints (and its sinks' commits) with the first one. The
// kernel drops the lock when the process dies, `kill -9` included, so a pid file left behind
// by a crash is recognised as stale: `sluice savepoint` signals a pid only when that process
// still holds the lock, has the lock file open and is a sluice process (a pid reused by an
// unrelated process is never signalled).
//
// On release (a clean exit) the pid file is deleted while the lock is still held; an
// acquirer that opened the old file checks after locking that it locked the file now at the
// path, and retries otherwise.
//
// Lifecycle: acquire() before anything in DIR is read or cleaned up; the lock lives until the
// object is destroyed. Not thread-safe; the holder is one job.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace sluice {

inline constexpr const char* kCheckpointPidFile = "sluice.pid";

class CheckpointDirLock {
 public:
  // Creates DIR if needed and locks it. Fails (one line naming DIR and the holder's pid) when
  // another process holds the lock.
  static Result<std::unique_ptr<CheckpointDirLock>> acquire(const std::string& dir);
  ~CheckpointDirLock();
  CheckpointDirLock(const CheckpointDirLock&) = delete;
  CheckpointDirLock& operator=(const CheckpointDirLock&) = delete;

  // The pid of the sluice process running on DIR, verified: the lock is held, the pid file
  // names that process, it has the lock file open, and its executable is sluice. kNotFound
  // "no job is running on DIR (...)" when no process holds the lock (no pid file, or a stale
  // one); other errors when the holder cannot be verified.
  static Result<pid_t> running_job(const std::string& dir);

 private:
  CheckpointDirLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace sluice
