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
// Retention keeps the newest `retain` checkpoints; savepoints (taken on request) are never
// deleted by retention. Not thread-safe: one coordinator thread owns a storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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
  std::string link_from;
  uint64_t size = 0;
  uint64_t checksum = 0;
};

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
  // Ids of the complete-looking checkpoint directories, ascending (not verified).
  std::vector<uint64_t> list() const;

  const std::string& dir() const { return dir_; }

 private:
  Status apply_retention();
  std::string path_of(uint64_t id) const;

  std::string dir_;
  int retain_;
};

}  // namespace sluice
