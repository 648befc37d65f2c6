// CheckpointStorage: durable, atomic, verifiable checkpoints in a directory.
//
// Layout: DIR/chk-<id, 20 digits>/ holds one file per piece of state (operator state,
// source offsets, ...) and a MANIFEST (JSON: id, kind, creation time, and every file's
// size and xxHash3 checksum). A checkpoint is written into DIR/.tmp-chk-<id>/, every file
// and the manifest are fsynced, the directory is renamed to chk-<id> (atomic on POSIX) and
// DIR is fsynced: after a crash a checkpoint is either complete or absent, never half
// visible. Reading verifies the manifest and every checksum; a corrupt or partial
// checkpoint is skipped with a warning and the previous one is used.
//
// A file can also be given as `link_from`, an existing immutable file (a RocksDB SST) that
// is hard-linked into the checkpoint instead of written: consecutive checkpoints then share
// one inode per unchanged file, so an incremental state backend costs neither I/O nor disk
// for what did not change. Verification still reads and checksums every file, linked or
// not. Deleting a checkpoint only drops its links; the other checkpoints keep theirs.
//
// DIR/job_id names the job (see load_or_create_job_id()).
//
// Retention keeps the newest `retain` checkpoints; savepoints (taken on request) are never
// deleted by retention. Not thread-safe: one coordinator thread owns a storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

struct CheckpointFile {
  CheckpointFile() = default;
  CheckpointFile(std::string n, std::string d) : name(std::move(n)), data(std::move(d)) {}
  std::string name;  // [A-Za-z0-9._-]+
  std::string data;
  // Instead of `data`: an existing immutable file (a RocksDB SST) that is hard-linked into
  // the checkpoint (copied when linking fails), with its size and xxHash3 checksum computed
  // once by the caller, so an unchanged file costs neither I/O nor hashing per checkpoint.
  // The caller must keep the file in place until write() returns, and it must already be
  // durable (RocksDB fsyncs an SST when it writes it): a link is not followed by an fsync.
  // `checksum` is checkpoint_checksum() of the contents (checksum_file() computes it).
  std::string link_from;
  uint64_t size = 0;
  uint64_t checksum = 0;
};

// The checksum the manifest records for a file's contents (xxHash3, 64 bits).
uint64_t checkpoint_checksum(std::string_view data);
// checkpoint_checksum() of a file's contents, streamed (constant memory).
Result<uint64_t> checksum_file(const std::string& path);

struct CheckpointInfo {
  uint64_t id = 0;
  std::string path;
  bool savepoint = false;
  int64_t created_unix_ms = 0;
  std::vector<std::string> files;
};

class CheckpointStorage {
 public:
  // `retain`: how many regular checkpoints to keep (>= 1).
  CheckpointStorage(std::string dir, int retain);

  // Creates the directory if needed and removes leftovers of interrupted writes.
  Status open();
  // Writes checkpoint `id` atomically; then applies retention. `id` must be new.
  Result<CheckpointInfo> write(uint64_t id, const std::vector<CheckpointFile>& files, bool savepoint);
  // The newest checkpoint whose manifest and files verify; nullopt when there is none.
  // Each skipped (corrupt or partial) checkpoint adds a one-line reason to `warnings`.
  Result<std::optional<CheckpointInfo>> latest_valid(std::vector<std::string>* warnings) const;
  // Verifies one checkpoint directory (manifest, sizes, checksums).
  Result<CheckpointInfo> verify(const std::string& path) const;
  // Reads a file of a verified checkpoint.
  Result<std::string> read_file(const CheckpointInfo& info, const std::string& name) const;
  // Where file `name` of checkpoint `info` lives, for readers that hard-link it back out or
  // read only part of it. Does not check that the checkpoint has such a file; such readers
  // must not modify the file (it may be shared with other checkpoints).
  std::string file_path(const CheckpointInfo& info, const std::string& name) const;
  // Ids of the complete-looking checkpoint directories, ascending (not verified).
  std::vector<uint64_t> list() const;

  // The identity of the job that owns this directory: DIR/job_id holds a random 128-bit id
  // (32 hex digits), created (written to a temporary file, fsynced, renamed, DIR fsynced)
  // by the first open of the directory and read back by every later run. Sinks key their
  // commit records by it, so two jobs (two checkpoint directories) writing one table never
  // mistake each other's commits for their own. `created`: set when this call made it.
  // A job_id file that is not 32 hex digits is kDataLoss (never silently replaced: the
  // sinks' records name the old id). Call after open().
  Result<std::string> load_or_create_job_id(bool* created) const;

  const std::string& dir() const { return dir_; }

 private:
  Status apply_retention();
  std::string path_of(uint64_t id) const;

  std::string dir_;
  int retain_;
};

}  // namespace sluice
