// Internal to src/state: what state_backend.cc (the factory and open_state_restore) needs
// from the two backends. Not included outside src/state.
//
// Checkpoint file names (one operator instance = "<operator id>.<instance>"):
//   memory:  state.<op>.<i>              the whole snapshot (memory_backend.cc)
//   rocksdb: rocksdb.<op>.<i>            an index: instance state, key groups, DB file list
//            rocksdb.<op>.<i>.<db file>  the files of the instance's RocksDB checkpoint
// open_state_restore looks up the exact names of the first two kinds for every old
// instance, so operator ids containing dots cannot be confused with one another.
#pragma once

#include <bitset>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint_storage.h"
#include "common/hash.h"
#include "common/serde.h"
#include "common/status.h"
#include "state/state_backend.h"

namespace sluice::state_internal {

using EntryFn = std::function<Status(int key_group, std::string_view key, std::string_view value)>;
using KeyGroupSet = std::bitset<kNumKeyGroups>;

// The snapshot of one old operator instance, opened for restore. Thread-safe: const
// methods may be called concurrently.
class InstanceSnapshot {
 public:
  virtual ~InstanceSnapshot() = default;
  virtual const std::string& instance_state() const = 0;
  // A superset of the key groups holding entries: a scan skips snapshots outside its range.
  virtual const KeyGroupSet& key_groups() const = 0;
  virtual Status scan(int kg_begin, int kg_end, const EntryFn& fn) const = 0;
};

std::string memory_file_name(const std::string& operator_id, int instance);
std::string rocksdb_index_name(const std::string& operator_id, int instance);

// Operator ids become parts of file names: [A-Za-z0-9._-]+.
bool valid_operator_id(const std::string& operator_id);

std::unique_ptr<StateBackend> make_memory_backend();
Result<std::unique_ptr<StateBackend>> make_rocksdb_backend(const std::string& work_dir);

// Removes the temporary directories of restores (scans of RocksDB snapshots) that a crash
// interrupted. Does nothing when `work_dir` is empty or missing.
void remove_restore_leftovers(const std::string& work_dir);

// `file`: a memory_file_name() present in the checkpoint.
Result<std::unique_ptr<InstanceSnapshot>> open_memory_snapshot(const CheckpointStorage& storage,
                                                               const CheckpointInfo& info, const std::string& file);
// `index`: a rocksdb_index_name() present in the checkpoint. Scans materialise the database
// in a temporary directory under `work_dir`.
Result<std::unique_ptr<InstanceSnapshot>> open_rocksdb_snapshot(const CheckpointStorage& storage,
                                                                const CheckpointInfo& info, const std::string& index,
                                                                const std::string& work_dir);

// Reads `length` bytes at `offset` of a file (a checkpoint file read in part) into `out`.
// (An out-parameter: GCC 12 warns falsely about moving short strings out of a Result.)
Status read_file_range(const std::string& path, uint64_t offset, uint64_t length, std::string* out);
// Hard-links `from` to `to`, or copies it when linking is impossible.
Status link_or_copy(const std::string& from, const std::string& to);

template <typename... Args>
Status data_loss(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kDataLoss, fmt::format(f, std::forward<Args>(args)...));
}

// A key-group set in a snapshot file: kNumKeyGroups bits as little-endian u64 words.
void write_key_groups(ByteWriter& out, const KeyGroupSet& bits);
KeyGroupSet read_key_groups(ByteReader& in);

}  // namespace sluice::state_internal
