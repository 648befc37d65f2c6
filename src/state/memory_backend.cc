// The memory backend: every snapshot is full and becomes one checkpoint file per operator
// instance, "state.<operator id>.<instance>".
//
// File layout (integers little-endian, strings varint-length-prefixed, see common/serde.h):
//   u32 magic "SLMS", u32 version (1), u64 header_bytes
//   header: str instance_state, varint sections, sections x (varint key_group,
//           varint entries, varint bytes), key groups strictly ascending
//   the sections' entries in header order, each entry: str key, str value
// The fixed prelude and the directory of sections let a restore read the instance state and
// then only the byte range of the key groups it owns, without reading the whole file: after
// a rescale each new instance reads about 1/parallelism of the state, not all of it.
#include <algorithm>
#include <array>
#include <filesystem>
#include <iterator>

#include <fmt/format.h>

#include "state/backend_internal.h"

namespace sluice::state_internal {
namespace {

constexpr uint32_t kMagic = 0x534d4c53;  // "SLMS"
constexpr uint32_t kVersion = 1;
constexpr uint64_t kPreludeBytes = 16;

// Collects a snapshot's entries grouped by key group. Entries are appended to one growing
// buffer per key group (amortised growth, no allocation per entry); the file is assembled
// from the buffers once `fill` is done.
class MemoryStateWriter : public StateWriter {
 public:
  bool incremental() const override { return false; }
  void put(int key_group, std::string_view key, std::string_view value) override {
    if (key_group < 0 || key_group >= kNumKeyGroups) {
      if (error_.is_ok()) {
        error_ = invalid_argument("state entry with key group {} (expected 0..{})", key_group, kNumKeyGroups - 1);
      }
      return;
    }
    ByteWriter out(&sections_[static_cast<size_t>(key_group)]);
    out.str(key);
    out.str(value);
    ++entries_[static_cast<size_t>(key_group)];
  }
  // Every snapshot is full: an entry absent from it is gone, nothing needs removing.
  void remove(int key_group, std::string_view key) override {}
  void put_instance_state(std::string_view value) override { instance_state_.assign(value); }

  const Status& error() const { return error_; }

  std::string encode() const {
    std::string header;
    ByteWriter h(&header);
    h.str(instance_state_);
    size_t sections = 0;
    size_t data_bytes = 0;
    for (size_t kg = 0; kg < sections_.size(); ++kg) {
      if (entries_[kg] == 0) continue;
      ++sections;
      data_bytes += sections_[kg].size();
    }
    h.varint(sections);
    for (size_t kg = 0; kg < sections_.size(); ++kg) {
      if (entries_[kg] == 0) continue;
      h.varint(kg);
      h.varint(entries_[kg]);
      h.varint(sections_[kg].size());
    }
    std::string file;
    file.reserve(kPreludeBytes + header.size() + data_bytes);
    ByteWriter out(&file);
    out.u32(kMagic);
    out.u32(kVersion);
    out.u64(header.size());
    file += header;
    for (size_t kg = 0; kg < sections_.size(); ++kg) file += sections_[kg];
    return file;
  }

 private:
  std::array<std::string, kNumKeyGroups> sections_;
  std::array<uint64_t, kNumKeyGroups> entries_{};
  std::string instance_state_;
  Status error_;
};

class MemoryInstanceStore : public InstanceStateStore {
 public:
  MemoryInstanceStore(std::string operator_id, int instance) : file_name_(memory_file_name(operator_id, instance)) {}

  Status snapshot(uint64_t checkpoint_id, const std::function<Status(StateWriter&)>& fill,
                  std::vector<CheckpointFile>* files) override {
    // The writer (and its buffers) lives for one snapshot only: keeping the buffers' capacity
    // would hold a second copy of the whole state between checkpoints.
    MemoryStateWriter writer;
    RETURN_IF_ERROR(fill(writer));
    RETURN_IF_ERROR(writer.error());
    files->emplace_back(file_name_, writer.encode());
    return Status::ok();
  }
  // Every snapshot is full anyway.
  void mark_restored() override {}

 private:
  std::string file_name_;
};

class MemoryBackend : public StateBackend {
 public:
  std::string name() const override { return "memory"; }
  bool incremental_snapshots() const override { return false; }
  Result<std::unique_ptr<InstanceStateStore>> open_instance(const std::string& operator_id, int instance) override {
    if (!valid_operator_id(operator_id)) {
      return invalid_argument("operator id '{}' cannot name a state file", operator_id);
    }
    if (instance < 0) return invalid_argument("operator {}: negative instance {}", operator_id, instance);
    return std::unique_ptr<InstanceStateStore>(std::make_unique<MemoryInstanceStore>(operator_id, instance));
  }
};

class MemorySnapshot : public InstanceSnapshot {
 public:
  struct Section {
    int key_group = 0;
    uint64_t entries = 0;
    uint64_t offset = 0;  // from the start of the file
    uint64_t bytes = 0;
  };

  MemorySnapshot(std::string path, std::string instance_state, std::vector<Section> sections)
      : path_(std::move(path)), instance_state_(std::move(instance_state)), sections_(std::move(sections)) {
    for (const auto& s : sections_) key_groups_.set(static_cast<size_t>(s.key_group));
  }

  const std::string& instance_state() const override { return instance_state_; }
  const KeyGroupSet& key_groups() const override { return key_groups_; }

  Status scan(int kg_begin, int kg_end, const EntryFn& fn) const override {
    // Sections are sorted by key group, so those in range are adjacent in the file: one read.
    auto at_or_after = [](int kg) { return [kg](const Section& s) { return s.key_group >= kg; }; };
    auto first = std::find_if(sections_.begin(), sections_.end(), at_or_after(kg_begin));
    auto last = std::find_if(first, sections_.end(), at_or_after(kg_end));
    if (first == last) return Status::ok();
    const uint64_t begin = first->offset;
    const uint64_t end = std::prev(last)->offset + std::prev(last)->bytes;
    std::string data;
    RETURN_IF_ERROR(read_file_range(path_, begin, end - begin, &data));
    for (auto s = first; s != last; ++s) {
      ByteReader in(std::string_view(data).substr(s->offset - begin, s->bytes));
      for (uint64_t e = 0; e < s->entries; ++e) {
        std::string_view key = in.str();
        std::string_view value = in.str();
        if (!in.ok()) break;
        RETURN_IF_ERROR(fn(s->key_group, key, value));
      }
      if (!in.ok() || !in.at_end()) return data_loss("'{}': malformed entries of key group {}", path_, s->key_group);
    }
    return Status::ok();
  }

 private:
  std::string path_;
  std::string instance_state_;
  std::vector<Section> sections_;
  KeyGroupSet key_groups_;
};

}  // namespace

std::unique_ptr<StateBackend> make_memory_backend() { return std::make_unique<MemoryBackend>(); }

Result<std::unique_ptr<InstanceSnapshot>> open_memory_snapshot(const CheckpointStorage& storage,
                                                               const CheckpointInfo& info, const std::string& file) {
  std::string path = storage.file_path(info, file);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return io_error("cannot read '{}': {}", path, ec.message());
  if (size < kPreludeBytes) return data_loss("'{}' is too short ({} bytes) for a state file", path, size);
  std::string prelude;
  RETURN_IF_ERROR(read_file_range(path, 0, kPreludeBytes, &prelude));
  ByteReader p(prelude);
  const uint32_t magic = p.u32();
  const uint32_t version = p.u32();
  const uint64_t header_bytes = p.u64();
  if (magic != kMagic) return data_loss("'{}' is not a memory state file", path);
  if (version != kVersion) {
    return data_loss("'{}' has state format version {}, this build reads {}", path, version, kVersion);
  }
  if (header_bytes > size - kPreludeBytes) {
    return data_loss("'{}': header of {} bytes exceeds the file", path, header_bytes);
  }

  std::string header;
  RETURN_IF_ERROR(read_file_range(path, kPreludeBytes, header_bytes, &header));
  ByteReader h(header);
  std::string instance_state(h.str());
  const uint64_t count = h.count(3);  // each directory entry takes at least three bytes
  std::vector<MemorySnapshot::Section> sections;
  sections.reserve(static_cast<size_t>(count));
  uint64_t offset = kPreludeBytes + header_bytes;
  for (uint64_t i = 0; i < count && h.ok(); ++i) {
    MemorySnapshot::Section s;
    const uint64_t key_group = h.varint();
    s.entries = h.varint();
    s.bytes = h.varint();
    const bool ascending = sections.empty() || key_group > static_cast<uint64_t>(sections.back().key_group);
    if (key_group >= static_cast<uint64_t>(kNumKeyGroups) || !ascending || s.bytes > size - offset) {
      h.fail();
      break;
    }
    s.key_group = static_cast<int>(key_group);
    s.offset = offset;
    offset += s.bytes;
    sections.push_back(s);
  }
  if (!h.ok() || !h.at_end()) return data_loss("'{}': malformed state file header", path);
  if (offset != size) return data_loss("'{}' has {} bytes, its header accounts for {}", path, size, offset);
  return std::unique_ptr<InstanceSnapshot>(
      std::make_unique<MemorySnapshot>(std::move(path), std::move(instance_state), std::move(sections)));
}

}  // namespace sluice::state_internal
