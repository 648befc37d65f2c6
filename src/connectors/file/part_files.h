// PartFiles: the files of a transactional file sink and the file operations of its
// two-phase commit. For the output path DIR/out.jsonl:
//
//   DIR/.out.inprogress.jsonl                 rows written since the last pre-commit
//   DIR/.out.part-0000000007.jsonl.pending    transaction (checkpoint) 7: durable, invisible
//   DIR/out.part-0000000007.jsonl             transaction 7, committed: part of the output
//
// A path without extension (DIR/out) gives .out.inprogress, .out.part-<id>.pending and
// out.part-<id>. Ids are zero-padded to 10 digits so that name order is id order. The
// uncommitted files are hidden (leading dot) so that `out.part-*` globs never see them.
//
// A part becomes visible by one rename (atomic on POSIX) followed by an fsync of DIR: after
// a crash it is pending or committed, never half-written under its committed name.
// Holds only names; used by the one sink task that owns the output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

class PartFiles {
 public:
  // `context` prefixes error messages ("table out").
  PartFiles(const std::string& path, std::string context);

  const std::string& dir() const { return dir_; }
  std::string in_progress() const;
  std::string pending(uint64_t id) const;
  std::string committed(uint64_t id) const;

  struct Listing {
    std::vector<uint64_t> committed;  // ascending
    std::vector<uint64_t> pending;    // ascending
    bool in_progress = false;
  };
  // This output's files now in DIR; other files (other sinks, the plain `path`) are ignored.
  Result<Listing> list() const;

  // Renames pending part `id` to its committed name, replacing (with a warning) a committed
  // part of the same id left by an earlier run. Idempotent: a part that is
  // already committed is fine; one that is neither pending nor committed is kDataLoss (the
  // rows of a durable checkpoint are gone). Does not fsync DIR: call sync_dir() after a
  // group of renames.
  Status commit(uint64_t id) const;

  Status rename(const std::string& from, const std::string& to) const;
  Status remove(const std::string& file) const;  // a missing file is fine
  Status sync_dir() const;

 private:
  std::string join(const std::string& name) const;
  // The id of `name` if it is "<prefix><digits><suffix>" with at least 10 digits.
  static bool parse_id(std::string_view name, std::string_view prefix, std::string_view suffix, uint64_t* id);

  std::string context_;
  std::string dir_;     // "." when the path has no directory
  bool has_dir_;        // false: names are relative to the working directory
  std::string stem_;    // "out"
  std::string ext_;     // ".jsonl" or ""
};

}  // namespace sluice
