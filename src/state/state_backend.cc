#include "state/state_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include <fmt/format.h>

#include "state/backend_internal.h"

namespace sluice {
namespace state_internal {

std::string memory_file_name(const std::string& operator_id, int instance) {
  return fmt::format("state.{}.{}", operator_id, instance);
}

std::string rocksdb_index_name(const std::string& operator_id, int instance) {
  return fmt::format("rocksdb.{}.{}", operator_id, instance);
}

bool valid_operator_id(const std::string& operator_id) {
  if (operator_id.empty()) return false;
  return std::all_of(operator_id.begin(), operator_id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

void write_key_groups(ByteWriter& out, const KeyGroupSet& bits) {
  for (int word = 0; word < (kNumKeyGroups + 63) / 64; ++word) {
    uint64_t v = 0;
    for (int bit = 0; bit < 64 && word * 64 + bit < kNumKeyGroups; ++bit) {
      if (bits.test(word * 64 + bit)) v |= uint64_t{1} << bit;
    }
    out.u64(v);
  }
}

KeyGroupSet read_key_groups(ByteReader& in) {
  KeyGroupSet bits;
  for (int word = 0; word < (kNumKeyGroups + 63) / 64; ++word) {
    uint64_t v = in.u64();
    for (int bit = 0; bit < 64 && word * 64 + bit < kNumKeyGroups; ++bit) {
      if (v & (uint64_t{1} << bit)) bits.set(word * 64 + bit);
    }
  }
  return bits;
}

Status read_file_range(const std::string& path, uint64_t offset, uint64_t length, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open '{}': {}", path, std::strerror(errno));
  out->assign(static_cast<size_t>(length), '\0');
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = ::pread(fd, out->data() + done, out->size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(fd);
      if (n == 0) return data_loss("'{}' ends before byte {}", path, offset + length);
      return io_error("cannot read '{}': {}", path, std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::ok();
}

Status link_or_copy(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::create_hard_link(from, to, ec);
  if (!ec) return Status::ok();
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return io_error("cannot link or copy '{}' to '{}': {}", from, to, ec.message());
  return Status::ok();
}

namespace {

// The snapshots of all old instances of one operator, whichever backend wrote each.
class CheckpointStateRestore : public StateRestore {
 public:
  CheckpointStateRestore(std::vector<std::unique_ptr<InstanceSnapshot>> snapshots) : snapshots_(std::move(snapshots)) {
    for (const auto& s : snapshots_) instance_states_.push_back(s ? s->instance_state() : std::string());
  }

  Status scan(int kg_begin, int kg_end, const EntryFn& fn) override {
    kg_begin = std::max(kg_begin, 0);
    kg_end = std::min(kg_end, kNumKeyGroups);
    if (kg_begin >= kg_end) return Status::ok();
    KeyGroupSet wanted;
    for (int kg = kg_begin; kg < kg_end; ++kg) wanted.set(kg);
    for (size_t i = 0; i < snapshots_.size(); ++i) {
      const auto& s = snapshots_[i];
      // After a rescale, most old instances own none of the requested key groups; skipping
      // them saves reading (memory) or materialising (rocksdb) their snapshot.
      if (!s || (s->key_groups() & wanted).none()) continue;
      RETURN_IF_ERROR(s->scan(kg_begin, kg_end, fn).with_context(fmt::format("old instance {}", i)));
    }
    return Status::ok();
  }
  const std::vector<std::string>& instance_states() const override { return instance_states_; }
  int old_parallelism() const override { return static_cast<int>(snapshots_.size()); }

 private:
  std::vector<std::unique_ptr<InstanceSnapshot>> snapshots_;  // null: the old instance wrote none
  std::vector<std::string> instance_states_;
};

}  // namespace
}  // namespace state_internal

namespace si = state_internal;

Result<std::unique_ptr<StateBackend>> make_state_backend(const std::string& kind, const std::string& work_dir) {
  // Whatever the backend, this job may restore RocksDB snapshots through work_dir.
  si::remove_restore_leftovers(work_dir);
  if (kind == "memory") return si::make_memory_backend();
  if (kind == "rocksdb") return si::make_rocksdb_backend(work_dir);
  return invalid_argument("unknown state backend '{}' (expected 'memory' or 'rocksdb')", kind);
}

Result<std::unique_ptr<StateRestore>> open_state_restore(const CheckpointStorage& storage, const CheckpointInfo& info,
                                                         const std::string& operator_id, int old_parallelism,
                                                         const std::string& work_dir) {
  if (old_parallelism < 1) {
    return invalid_argument("operator {} has parallelism {} in checkpoint {}", operator_id, old_parallelism, info.id);
  }
  const std::unordered_set<std::string> names(info.files.begin(), info.files.end());
  std::vector<std::unique_ptr<si::InstanceSnapshot>> snapshots(static_cast<size_t>(old_parallelism));
  bool any = false;
  for (int i = 0; i < old_parallelism; ++i) {
    // Each old instance is detected on its own: which backend wrote it is a property of the
    // checkpoint, not of the job restoring it (a job may switch backends between runs).
    std::string memory = si::memory_file_name(operator_id, i);
    std::string rocksdb = si::rocksdb_index_name(operator_id, i);
    Result<std::unique_ptr<si::InstanceSnapshot>> opened = std::unique_ptr<si::InstanceSnapshot>();
    if (names.count(memory)) {
      opened = si::open_memory_snapshot(storage, info, memory);
    } else if (names.count(rocksdb)) {
      opened = si::open_rocksdb_snapshot(storage, info, rocksdb, work_dir);
    } else {
      continue;
    }
    if (!opened.is_ok()) {
      return opened.status().with_context(
          fmt::format("state of {} instance {} in checkpoint {}", operator_id, i, info.id));
    }
    snapshots[static_cast<size_t>(i)] = std::move(opened).value();
    any = true;
  }
  if (!any) return std::unique_ptr<StateRestore>();
  return std::unique_ptr<StateRestore>(std::make_unique<si::CheckpointStateRestore>(std::move(snapshots)));
}

std::pair<int, int> key_group_range(int instance, int parallelism) {
  // instance_of_key_group(kg, p) = floor(kg * p / N) == instance  <=>
  // instance * N <= kg * p < (instance + 1) * N  <=>  ceil(instance * N / p) <= kg < ceil((instance + 1) * N / p).
  auto ceil_div = [](int a, int b) { return (a + b - 1) / b; };
  return {ceil_div(instance * kNumKeyGroups, parallelism), ceil_div((instance + 1) * kNumKeyGroups, parallelism)};
}

}  // namespace sluice
