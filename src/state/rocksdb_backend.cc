// The rocksdb backend: one working RocksDB database per operator instance, in
// <work_dir>/<operator id>.<instance>/db, wiped when the instance opens (state comes back
// through StateRestore and the first snapshot after mark_restored() is full).
//
// A snapshot applies the StateWriter's entries (keys: 2-byte big-endian key group + key)
// with write batches, then takes a RocksDB checkpoint into <instance dir>/snapshot-<n>: SST
// files are hard links to the live ones, the small mutable files (CURRENT, MANIFEST-*,
// OPTIONS-*) are copies. The checkpoint files handed to CheckpointStorage link the SSTs
// once more (CheckpointFile::link_from), so an SST unchanged since the previous checkpoint
// costs neither I/O nor disk, and its checksum is computed once per SST (SSTs are
// immutable; the cache is keyed by file name and size). Alongside the database files, an
// index file "rocksdb.<op>.<instance>" records the instance-state blob, a superset of the
// key groups holding entries (so a rescaled restore skips old instances it owns nothing
// of) and the list of database files.
//
// The instance-state blob lives in the index, not in the database: open_state_restore()
// must hand every old instance's blob to every new instance up front, and reading it from
// the index avoids materialising every old database just for that.
//
// Restore materialises an old instance's database in a temporary directory under work_dir
// (SSTs hard-linked back out of the checkpoint, small files copied), opens it read-only,
// iterates the requested key groups and deletes the directory.
#include <stdlib.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <unordered_map>

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "state/backend_internal.h"

namespace sluice::state_internal {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kIndexMagic = 0x4b524c53;  // "SLRK"
constexpr uint32_t kIndexVersion = 1;
// Write batches are applied every few MiB: a full snapshot of a large state must not build
// one batch as large as the state.
constexpr size_t kWriteBatchBytes = 8u << 20;
// Snapshot directories kept after the one just taken. The coordinator writes a checkpoint
// (linking the files of its snapshot) before it triggers the next one, so keeping one
// previous snapshot would do; one more is a margin that costs only directory entries (the
// SSTs are also held by the retained checkpoints).
constexpr size_t kPreviousSnapshotsKept = 2;
// The block cache is shared by all instances of a backend. The working databases are
// written, flushed and compacted but hardly read (compaction reads bypass the cache), so
// it stays small.
constexpr size_t kBlockCacheBytes = 8u << 20;
constexpr const char* kRestorePrefix = "restore-";

Status from_rocksdb(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::ok();
  StatusCode code = StatusCode::kInternal;
  if (s.IsCorruption()) {
    code = StatusCode::kDataLoss;
  } else if (s.IsIOError()) {
    code = StatusCode::kIoError;
  } else if (s.IsInvalidArgument()) {
    code = StatusCode::kInvalidArgument;
  } else if (s.IsNotFound()) {
    code = StatusCode::kNotFound;
  }
  return Status(code, fmt::format("{}: {}", what, s.ToString()));
}

void append_key_group(std::string* key, int key_group) {
  key->push_back(static_cast<char>((key_group >> 8) & 0xff));
  key->push_back(static_cast<char>(key_group & 0xff));
}

std::string key_group_prefix(int key_group) {
  std::string prefix;
  append_key_group(&prefix, key_group);
  return prefix;
}

// Files RocksDB never modifies once written: linked, never copied.
bool immutable_db_file(const std::string& name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".sst") || ends_with(".blob");
}

rocksdb::CompressionType block_compression() {
  // LZ4: fast enough to be invisible at every flush and compaction, and it shrinks what the
  // checkpoints keep on disk. Builds without LZ4 fall back to no compression.
  static const rocksdb::CompressionType type = [] {
    auto supported = rocksdb::GetSupportedCompressions();
    bool lz4 = std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();
    return lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  }();
  return type;
}

rocksdb::Options working_db_options(const std::shared_ptr<rocksdb::Cache>& block_cache) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.error_if_exists = true;  // the directory was just wiped
  options.compression = block_compression();
  // Durability comes from the checkpoints, never from this database (it is wiped at the
  // next open), so writes skip the WAL and shutdown skips the final flush. Each snapshot
  // flushes the memtable instead (CreateCheckpoint with log_size_for_flush = 0).
  options.avoid_flush_during_shutdown = true;
  // Every snapshot flushes, so the memtable only has to hold one checkpoint interval of
  // changes; many instances share a process, so keep it modest.
  options.write_buffer_size = 16u << 20;
  options.max_write_buffer_number = 2;
  // The working database is written in bursts (one snapshot's changes, keys in hash-table
  // order, i.e. random) and never read: a vector memtable appends each write in O(1) and
  // sorts once at flush, where the default skip list paid a random-order insertion per key
  // (measured: ~70% of the CPU of a 1M-key checkpoint went to skip-list inserts).
  options.memtable_factory.reset(new rocksdb::VectorRepFactory());
  options.allow_concurrent_memtable_write = false;
  // The MANIFEST is mutable, so every snapshot copies it: rolling it at 4 MiB (default
  // 1 GiB) bounds that copy.
  options.max_manifest_file_size = 4u << 20;
  // Each instance is its own database: keeping every SST open (the default) multiplies file
  // descriptors by the number of instances. The database is hardly read, so a small table
  // cache costs nothing.
  options.max_open_files = 64;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  options.max_log_file_size = 1u << 20;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

rocksdb::Options restore_db_options() {
  rocksdb::Options options;
  options.create_if_missing = false;
  options.max_open_files = 64;
  options.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  // One sequential pass over each block: a cache would only be filled and thrown away.
  rocksdb::BlockBasedTableOptions table;
  table.no_block_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

// Removes a directory tree when it goes out of scope (unless released).
class DirectoryGuard {
 public:
  explicit DirectoryGuard(std::string path) : path_(std::move(path)) {}
  DirectoryGuard(const DirectoryGuard&) = delete;
  DirectoryGuard& operator=(const DirectoryGuard&) = delete;
  ~DirectoryGuard() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);  // best effort; leftovers are removed when a backend is made
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

Status slurp(const std::string& path, std::string* out) {
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return io_error("cannot read '{}': {}", path, ec.message());
  return read_file_range(path, 0, size, out);
}

// Applies one snapshot's entries to the working database.
class RocksDbStateWriter : public StateWriter {
 public:
  RocksDbStateWriter(rocksdb::DB* db, bool incremental, std::string instance_state, KeyGroupSet key_groups)
      : db_(db), incremental_(incremental), instance_state_(std::move(instance_state)), key_groups_(key_groups) {
    write_options_.disableWAL = true;  // see working_db_options()
  }

  bool incremental() const override { return incremental_; }
  void put(int key_group, std::string_view key, std::string_view value) override {
    if (!make_key(key_group, key)) return;
    key_groups_.set(static_cast<size_t>(key_group));
    check(batch_.Put(key_, rocksdb::Slice(value.data(), value.size())));
  }
  void remove(int key_group, std::string_view key) override {
    if (!make_key(key_group, key)) return;
    check(batch_.Delete(key_));
  }
  void put_instance_state(std::string_view value) override { instance_state_.assign(value); }

  // A full snapshot starts from an empty database: entries absent from it must be gone.
  void delete_everything() {
    check(batch_.DeleteRange(key_group_prefix(0), key_group_prefix(kNumKeyGroups)));
  }
  // Applies what is still batched; the first error of the snapshot, if any.
  Status finish() {
    if (status_.is_ok() && batch_.Count() > 0) apply();
    return status_;
  }
  std::string& instance_state() { return instance_state_; }
  const KeyGroupSet& key_groups() const { return key_groups_; }

 private:
  // Builds the database key in a reused buffer: no allocation per entry once it has grown
  // to the longest key.
  bool make_key(int key_group, std::string_view key) {
    if (!status_.is_ok()) return false;
    if (key_group < 0 || key_group >= kNumKeyGroups) {
      status_ = invalid_argument("state entry with key group {} (expected 0..{})", key_group, kNumKeyGroups - 1);
      return false;
    }
    key_.clear();
    append_key_group(&key_, key_group);
    key_.append(key.data(), key.size());
    return true;
  }
  void check(const rocksdb::Status& s) {
    if (!s.ok()) {
      status_ = from_rocksdb(s, "cannot batch a state entry");
    } else if (batch_.GetDataSize() >= kWriteBatchBytes) {
      apply();
    }
  }
  void apply() {
    status_ = from_rocksdb(db_->Write(write_options_, &batch_), "cannot write state to RocksDB");
    batch_.Clear();
  }

  rocksdb::DB* db_;
  const bool incremental_;
  std::string instance_state_;
  KeyGroupSet key_groups_;
  rocksdb::WriteOptions write_options_;
  rocksdb::WriteBatch batch_;
  std::string key_;
  Status status_;
};

class RocksDbInstanceStore : public InstanceStateStore {
 public:
  RocksDbInstanceStore(std::string operator_id, int instance, std::string dir, std::unique_ptr<rocksdb::DB> db)
      : file_prefix_(rocksdb_index_name(operator_id, instance)), dir_(std::move(dir)), db_(std::move(db)) {}

  ~RocksDbInstanceStore() override {
    db_.reset();
    // The coordinator writes each checkpoint before the tasks end, so nothing links from here
    // any more; a crash instead leaves the directory to the next open_instance().
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Status snapshot(uint64_t checkpoint_id, const std::function<Status(StateWriter&)>& fill,
                  std::vector<CheckpointFile>* files) override {
    Deferred deferred;
    RETURN_IF_ERROR(snapshot_async(checkpoint_id, fill, files, &deferred));
    return deferred(files);
  }

  // Task thread: the operator's entries go into the database (an in-memory WriteBatch and a
  // vector memtable: no sorting, no I/O). Deferred: flush, RocksDB checkpoint, file list.
  Status snapshot_async(uint64_t checkpoint_id, const std::function<Status(StateWriter&)>& fill,
                        std::vector<CheckpointFile>* files, Deferred* deferred) override {
    *deferred = nullptr;
    auto writer = std::make_shared<RocksDbStateWriter>(db_.get(), !needs_full_,
                                                       !needs_full_ ? instance_state_ : std::string(),
                                                       !needs_full_ ? key_groups_ : KeyGroupSet());
    if (!writer->incremental()) writer->delete_everything();
    Status s = fill(*writer);
    if (s.is_ok()) s = writer->finish();
    if (!s.is_ok()) {
      // The database may hold part of the deltas, and the operator may already consider
      // them written: only a full snapshot is certain to be right again.
      needs_full_ = true;
      return s;
    }
    *deferred = [this, writer](std::vector<CheckpointFile>* out) {
      Status st = take_snapshot(*writer, out);
      if (!st.is_ok()) needs_full_ = true;
      return st;
    };
    return Status::ok();
  }

  void mark_restored() override { needs_full_ = true; }

 private:
  Status take_snapshot(RocksDbStateWriter& writer, std::vector<CheckpointFile>* files) {
    std::string snapshot_dir = fmt::format("{}/snapshot-{}", dir_, ++snapshots_taken_);
    DirectoryGuard guard(snapshot_dir);
    {
      rocksdb::Checkpoint* raw = nullptr;
      RETURN_IF_ERROR(from_rocksdb(rocksdb::Checkpoint::Create(db_.get(), &raw), "cannot start a RocksDB checkpoint"));
      std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
      // log_size_for_flush = 0: always flush the memtable, so the SSTs hold everything (the
      // WAL is disabled and would hold nothing).
      RETURN_IF_ERROR(from_rocksdb(checkpoint->CreateCheckpoint(snapshot_dir, 0), "cannot take a RocksDB checkpoint"));
    }

    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(snapshot_dir, ec)) {
      if (e.is_regular_file()) names.push_back(e.path().filename().string());
    }
    if (ec) return io_error("cannot list '{}': {}", snapshot_dir, ec.message());
    std::sort(names.begin(), names.end());

    std::vector<CheckpointFile> produced;
    produced.reserve(names.size() + 1);
    std::unordered_map<std::string, uint64_t> checksums;  // the next cache: current SSTs only
    for (const auto& name : names) {
      std::string path = snapshot_dir + "/" + name;
      CheckpointFile f;
      f.name = file_prefix_ + "." + name;
      if (immutable_db_file(name)) {
        f.size = fs::file_size(path, ec);
        if (ec) return io_error("cannot stat '{}': {}", path, ec.message());
        std::string cache_key = fmt::format("{}#{}", name, f.size);
        auto cached = checksums_.find(cache_key);
        if (cached != checksums_.end()) {
          f.checksum = cached->second;
        } else {
          ASSIGN_OR_RETURN(f.checksum, checksum_file(path));
        }
        checksums.emplace(std::move(cache_key), f.checksum);
        f.link_from = std::move(path);
      } else {
        RETURN_IF_ERROR(slurp(path, &f.data));
      }
      produced.push_back(std::move(f));
    }

    std::string index;
    ByteWriter out(&index);
    out.u32(kIndexMagic);
    out.u32(kIndexVersion);
    out.str(writer.instance_state());
    write_key_groups(out, writer.key_groups());
    out.varint(names.size());
    for (const auto& name : names) out.str(name);
    produced.emplace_back(file_prefix_, std::move(index));

    // Commit: from here on nothing fails.
    guard.release();
    files->insert(files->end(), std::make_move_iterator(produced.begin()), std::make_move_iterator(produced.end()));
    needs_full_ = false;
    instance_state_ = std::move(writer.instance_state());
    key_groups_ = writer.key_groups();
    checksums_ = std::move(checksums);
    snapshot_dirs_.push_back(std::move(snapshot_dir));
    while (snapshot_dirs_.size() > kPreviousSnapshotsKept + 1) {
      fs::remove_all(snapshot_dirs_.front(), ec);  // best effort: the instance directory goes at close
      snapshot_dirs_.pop_front();
    }
    return Status::ok();
  }

  const std::string file_prefix_;  // "rocksdb.<op>.<instance>"
  const std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  bool needs_full_ = true;  // the working database starts empty
  std::string instance_state_;
  KeyGroupSet key_groups_;
  std::unordered_map<std::string, uint64_t> checksums_;  // "<sst name>#<size>" -> checksum
  uint64_t snapshots_taken_ = 0;
  std::deque<std::string> snapshot_dirs_;
};

class RocksDbBackend : public StateBackend {
 public:
  explicit RocksDbBackend(std::string work_dir)
      : work_dir_(std::move(work_dir)), block_cache_(rocksdb::NewLRUCache(kBlockCacheBytes)) {}

  std::string name() const override { return "rocksdb"; }
  bool incremental_snapshots() const override { return true; }

  Result<std::unique_ptr<InstanceStateStore>> open_instance(const std::string& operator_id, int instance) override {
    if (!valid_operator_id(operator_id)) {
      return invalid_argument("operator id '{}' cannot name a state file", operator_id);
    }
    if (instance < 0) return invalid_argument("operator {}: negative instance {}", operator_id, instance);
    std::string dir = fmt::format("{}/{}.{}", work_dir_, operator_id, instance);
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) return io_error("cannot wipe '{}': {}", dir, ec.message());
    fs::create_directories(dir, ec);
    if (ec) return io_error("cannot create '{}': {}", dir, ec.message());
    rocksdb::DB* raw = nullptr;
    RETURN_IF_ERROR(from_rocksdb(rocksdb::DB::Open(working_db_options(block_cache_), dir + "/db", &raw),
                                 fmt::format("cannot open RocksDB in '{}/db'", dir)));
    std::unique_ptr<rocksdb::DB> db(raw);
    return std::unique_ptr<InstanceStateStore>(
        std::make_unique<RocksDbInstanceStore>(operator_id, instance, std::move(dir), std::move(db)));
  }

 private:
  const std::string work_dir_;
  std::shared_ptr<rocksdb::Cache> block_cache_;  // thread-safe, shared by the instances
};

class RocksDbSnapshot : public InstanceSnapshot {
 public:
  struct DbFile {
    std::string name;  // in the database directory
    std::string path;  // in the checkpoint
  };

  RocksDbSnapshot(std::string work_dir, std::string instance_state, KeyGroupSet key_groups, std::vector<DbFile> files)
      : work_dir_(std::move(work_dir)),
        instance_state_(std::move(instance_state)),
        key_groups_(key_groups),
        files_(std::move(files)) {}

  const std::string& instance_state() const override { return instance_state_; }
  const KeyGroupSet& key_groups() const override { return key_groups_; }

  Status scan(int kg_begin, int kg_end, const EntryFn& fn) const override {
    std::error_code ec;
    fs::create_directories(work_dir_, ec);
    if (ec) return io_error("cannot create '{}': {}", work_dir_, ec.message());
    // A fresh directory per scan: concurrent scans (one per restoring instance) never meet.
    std::string dir = fmt::format("{}/{}XXXXXX", work_dir_, kRestorePrefix);
    if (::mkdtemp(dir.data()) == nullptr) return io_error("cannot create a directory in '{}'", work_dir_);
    DirectoryGuard guard(dir);
    for (const auto& f : files_) {
      std::string to = dir + "/" + f.name;
      if (immutable_db_file(f.name)) {
        // Read-only RocksDB never writes an SST, so the checkpoint's inode can be shared.
        RETURN_IF_ERROR(link_or_copy(f.path, to));
      } else {
        fs::copy_file(f.path, to, ec);
        if (ec) return io_error("cannot copy '{}' to '{}': {}", f.path, to, ec.message());
      }
    }
    rocksdb::DB* raw = nullptr;
    RETURN_IF_ERROR(from_rocksdb(rocksdb::DB::OpenForReadOnly(restore_db_options(), dir, &raw),
                                 "cannot open the checkpointed RocksDB state"));
    std::unique_ptr<rocksdb::DB> db(raw);

    const std::string lower = key_group_prefix(kg_begin);
    const std::string upper = key_group_prefix(kg_end);
    rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper_bound;
    read.fill_cache = false;
    read.readahead_size = 2u << 20;  // one sequential pass
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      rocksdb::Slice key = it->key();
      if (key.size() < 2) return data_loss("RocksDB state key of {} bytes has no key group", key.size());
      const int key_group = (static_cast<uint8_t>(key[0]) << 8) | static_cast<uint8_t>(key[1]);
      rocksdb::Slice value = it->value();
      RETURN_IF_ERROR(fn(key_group, std::string_view(key.data() + 2, key.size() - 2),
                         std::string_view(value.data(), value.size())));
    }
    return from_rocksdb(it->status(), "cannot read the checkpointed RocksDB state");
  }

 private:
  const std::string work_dir_;
  const std::string instance_state_;
  const KeyGroupSet key_groups_;
  const std::vector<DbFile> files_;
};

}  // namespace

void remove_restore_leftovers(const std::string& work_dir) {
  if (work_dir.empty()) return;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(work_dir, ec)) {
    if (e.path().filename().string().rfind(kRestorePrefix, 0) == 0) fs::remove_all(e.path(), ec);
  }
}

Result<std::unique_ptr<StateBackend>> make_rocksdb_backend(const std::string& work_dir) {
  if (work_dir.empty()) return invalid_argument("the rocksdb state backend needs a working directory");
  std::error_code ec;
  fs::create_directories(work_dir, ec);
  if (ec) return io_error("cannot create state working directory '{}': {}", work_dir, ec.message());
  return std::unique_ptr<StateBackend>(std::make_unique<RocksDbBackend>(work_dir));
}

Result<std::unique_ptr<InstanceSnapshot>> open_rocksdb_snapshot(const CheckpointStorage& storage,
                                                                const CheckpointInfo& info, const std::string& index,
                                                                const std::string& work_dir) {
  if (work_dir.empty()) return invalid_argument("restoring RocksDB state needs a working directory");
  ASSIGN_OR_RETURN(std::string text, storage.read_file(info, index));
  ByteReader in(text);
  const uint32_t magic = in.u32();
  const uint32_t version = in.u32();
  if (!in.ok() || magic != kIndexMagic) return data_loss("'{}' is not a RocksDB state index", index);
  if (version != kIndexVersion) {
    return data_loss("'{}' has index version {}, this build reads {}", index, version, kIndexVersion);
  }
  std::string instance_state(in.str());
  KeyGroupSet key_groups = read_key_groups(in);
  const uint64_t count = in.count(2);
  std::vector<RocksDbSnapshot::DbFile> files;
  files.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count && in.ok(); ++i) files.push_back({std::string(in.str()), std::string()});
  if (!in.ok() || !in.at_end()) return data_loss("'{}': malformed RocksDB state index", index);
  for (auto& f : files) {
    std::string name = index + "." + f.name;
    if (f.name.empty() || f.name.find('/') != std::string::npos ||
        std::find(info.files.begin(), info.files.end(), name) == info.files.end()) {
      return data_loss("'{}' lists '{}', which checkpoint {} does not hold", index, f.name, info.id);
    }
    f.path = storage.file_path(info, name);
  }
  return std::unique_ptr<InstanceSnapshot>(
      std::make_unique<RocksDbSnapshot>(work_dir, std::move(instance_state), key_groups, std::move(files)));
}

}  // namespace sluice::state_internal
