// State backends: where the keyed state of operator instances goes at a checkpoint and
// where it comes back from on recovery.
//
// An operator instance keeps its working state in its own structures (hash tables, slot
// arrays). At a checkpoint barrier its task calls Operator::snapshot(StateWriter&), which
// describes the state as entries: (key group, key bytes, value bytes) for keyed state, plus
// one opaque blob of per-instance (non-keyed) state. The backend turns the entries into
// checkpoint files:
//
//  - memory (default): every snapshot is full; the entries of one operator instance are
//    encoded into one file "state.<operator id>.<instance>" of the checkpoint.
//  - rocksdb: one RocksDB database per operator instance in a working directory; a
//    snapshot applies only the entries changed since the previous snapshot (put/remove
//    deltas, StateWriter::incremental() is true) and then takes a RocksDB checkpoint whose
//    SST files are hard-linked into the checkpoint directory, so unchanged SST files are
//    shared by consecutive checkpoints (incremental on disk).
//
// Recovery (StateRestore) reads the snapshot of an operator written by any backend, at any
// old parallelism, and returns the entries of a range of key groups: a restored instance
// receives exactly the keys it owns under the new parallelism (instance_of_key_group), so
// keyed state is redistributed when the parallelism changes.
//
// Key groups: kNumKeyGroups (common/hash.h); an entry's key group is
// key_group_of(hash of its key columns), the same function the hash exchange routes by.
// Threads: a StateWriter / InstanceStateStore is used by the one task thread that owns the
// operator instance; the backend object itself is shared and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/checkpoint_storage.h"
#include "common/status.h"

namespace sluice {

// Receives the state of one operator instance during Operator::snapshot().
class StateWriter {
 public:
  virtual ~StateWriter() = default;
  // True: only entries changed (put) or removed since this instance's previous snapshot
  // need to be written; everything not mentioned keeps its previous value. False: this is a
  // full snapshot and every live entry must be put (remove() is then unnecessary).
  virtual bool incremental() const = 0;
  virtual void put(int key_group, std::string_view key, std::string_view value) = 0;
  virtual void remove(int key_group, std::string_view key) = 0;
  // Per-instance, non-keyed state (replaces the previous one). On restore, the blobs of all
  // old instances are offered to every new instance (StateRestore::instance_states).
  virtual void put_instance_state(std::string_view value) = 0;
};

// The state of one operator (all old instances) in a checkpoint being restored.
class StateRestore {
 public:
  virtual ~StateRestore() = default;
  // Calls `fn` for every keyed entry whose key group is in [kg_begin, kg_end), in no
  // particular order. Entries of every old instance are included.
  virtual Status scan(int kg_begin, int kg_end,
                      const std::function<Status(int key_group, std::string_view key, std::string_view value)>& fn) = 0;
  // Non-keyed blobs of the old instances, indexed by old instance (empty when none).
  virtual const std::vector<std::string>& instance_states() const = 0;
  virtual int old_parallelism() const = 0;
};

// One operator instance's handle on the backend, created at job start.
class InstanceStateStore {
 public:
  virtual ~InstanceStateStore() = default;
  // Writes the snapshot for checkpoint `checkpoint_id`: calls `fill` with a StateWriter and
  // appends the files the checkpoint must contain to `files`. Called on the task thread.
  virtual Status snapshot(uint64_t checkpoint_id, const std::function<Status(StateWriter&)>& fill,
                          std::vector<CheckpointFile>* files) = 0;
  // The slow remainder of a snapshot, runnable on another thread: appends the rest of the
  // checkpoint's files. Must run before the checkpoint is written and before the next
  // snapshot of the same store.
  using Deferred = std::function<Status(std::vector<CheckpointFile>*)>;
  // Like snapshot(), but a backend may capture the state on the task thread (fill runs
  // here) and leave the slow part (RocksDB: flush and checkpoint of the database) in
  // *deferred, so the task goes back to processing while it runs. *deferred is empty when
  // nothing was left. Default: snapshot() with nothing deferred.
  virtual Status snapshot_async(uint64_t checkpoint_id, const std::function<Status(StateWriter&)>& fill,
                                std::vector<CheckpointFile>* files, Deferred* deferred) {
    *deferred = nullptr;
    return snapshot(checkpoint_id, fill, files);
  }
  // Called after the instance restored its working state from a checkpoint: the next
  // snapshot must be full (the backend's own files do not yet hold the restored entries).
  virtual void mark_restored() = 0;
};

class StateBackend {
 public:
  virtual ~StateBackend() = default;
  virtual std::string name() const = 0;  // "memory" or "rocksdb"
  // Whether snapshots after the first are incremental (StateWriter::incremental()): only
  // then do operators need to remember what changed between snapshots.
  virtual bool incremental_snapshots() const = 0;
  virtual Result<std::unique_ptr<InstanceStateStore>> open_instance(const std::string& operator_id, int instance) = 0;
};

// kind: "memory" or "rocksdb". work_dir: where RocksDB keeps its working databases (created
// if missing; the rocksdb backend owns and may wipe DIR/<operator>.<instance>).
Result<std::unique_ptr<StateBackend>> make_state_backend(const std::string& kind, const std::string& work_dir);

// Opens the snapshot of `operator_id` in a verified checkpoint, whichever backend wrote it.
// `old_parallelism` is the number of instances recorded for the operator in the checkpoint.
// Returns nullptr when the checkpoint holds no state for the operator (a new operator).
Result<std::unique_ptr<StateRestore>> open_state_restore(const CheckpointStorage& storage, const CheckpointInfo& info,
                                                         const std::string& operator_id, int old_parallelism,
                                                         const std::string& work_dir);

// The key groups owned by `instance` of `parallelism` (inverse of instance_of_key_group).
std::pair<int, int> key_group_range(int instance, int parallelism);

}  // namespace sluice
