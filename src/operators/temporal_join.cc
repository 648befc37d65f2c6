#include "operators/temporal_join.h"

#include <algorithm>

#include <absl/container/flat_hash_map.h>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/serde.h"
#include "operators/enrichment.h"
#include "operators/group_table.h"
#include "types/batch_serde.h"

namespace sluice {
namespace {

constexpr uint32_t kNoRow = kNoPartner;  // a version without a row: the key was deleted
constexpr uint64_t kEntryFormat = 1;

Status data_loss(std::string message) { return Status(StatusCode::kDataLoss, std::move(message)); }

struct Version {
  Micros start;
  uint32_t row;  // in the version store, or kNoRow
};

struct KeyState {
  std::string bytes;
  int key_group = 0;
  std::vector<Version> versions;  // by start, ascending; equal starts never repeat
  uint32_t pending = 0;           // probe rows of this key waiting for the watermark
  bool live() const { return !versions.empty() || pending > 0; }
};

// A probe row waiting for the watermark. The heap pops the smallest (time, seq) first.
struct Pending {
  Micros time;
  uint64_t seq;
  uint32_t row;  // in the pending store
  uint32_t key;
};
bool later(const Pending& a, const Pending& b) { return a.time != b.time ? a.time > b.time : a.seq > b.seq; }

class TemporalJoin : public Operator {
 public:
  explicit TemporalJoin(const TemporalJoinConfig& c)
      : c_(c), versions_(c.table_schema), pending_rows_(c.probe_schema), output_(c.type, c.residual, c.output_schema) {}

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_dirty_ = ctx.checkpoint.incremental;
    return Status::ok();
  }

  int64_t state_entries() const override { return static_cast<int64_t>(total_versions_ + heap_.size()); }

  Status process(int input, const BatchPtr& batch, Output& out) override {
    if (input == 1) {
      add_versions(*batch);
      return Status::ok();
    }
    if (input != 0) return internal_error("temporal join: unknown input {}", input);
    add_probe_rows(*batch);
    // Rows behind the watermark (late) join at once with the versions still kept.
    return emit_ready(out);
  }

  Status on_watermark(Micros watermark, Output& out) override {
    if (watermark > watermark_) watermark_ = watermark;
    RETURN_IF_ERROR(emit_ready(out));
    if (total_versions_ > 2 * live_keys_ + 1024) {
      for (uint32_t k = 0; k < keys_.size(); ++k) {
        if (keys_[k].live()) prune(k);
      }
    }
    compact();
    return out.emit_watermark(watermark);
  }

  Status finish(Output& out) override {
    watermark_ = kMaxWatermark;
    return emit_ready(out);
  }

  Status snapshot(uint64_t, StateWriter& writer) override {
    // Pending rows by key (the heap is not grouped).
    by_key_.assign(keys_.size(), {});
    for (const Pending& p : heap_) by_key_[p.key].push_back(static_cast<uint32_t>(&p - heap_.data()));
    std::string value;
    if (writer.incremental()) {
      for (const auto& [bytes, key_group] : dirty_) {
        auto it = index_.find(bytes);
        if (it == index_.end()) {
          writer.remove(key_group, bytes);
        } else {
          write_entry(it->second, value);
          writer.put(key_group, bytes, value);
        }
      }
    } else {
      for (uint32_t k = 0; k < keys_.size(); ++k) {
        if (!keys_[k].live()) continue;
        write_entry(k, value);
        writer.put(keys_[k].key_group, keys_[k].bytes, value);
      }
    }
    dirty_.clear();
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (state == nullptr) return Status::ok();
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    RETURN_IF_ERROR(state->scan(begin, end, [&](int key_group, std::string_view key, std::string_view value) {
      return read_entry(key_group, key, value);
    }));
    std::make_heap(heap_.begin(), heap_.end(), later);
    return Status::ok();
  }

 private:
  // A key with a NULL in a plain `=` column matches nothing.
  static bool null_key(const RecordBatch& in, const std::vector<int>& keys, const std::vector<bool>& null_safe,
                       size_t row) {
    for (size_t k = 0; k < keys.size(); ++k) {
      if (!null_safe[k] && in.column(static_cast<size_t>(keys[k])).is_null(row)) return true;
    }
    return false;
  }

  uint32_t find_or_add_key(const RecordBatch& batch, const std::vector<int>& keys, size_t row) {
    auto it = index_.find(key_buffer_);
    if (it != index_.end()) return it->second;
    uint64_t hash = 0;
    for (int c : keys) hash = hash_combine(hash, batch.column(static_cast<size_t>(c)).hash_row(row));
    return add_key(key_buffer_, key_group_of(hash));
  }
  uint32_t add_key(const std::string& bytes, int key_group) {
    uint32_t id;
    if (!free_keys_.empty()) {
      id = free_keys_.back();
      free_keys_.pop_back();
    } else {
      id = static_cast<uint32_t>(keys_.size());
      keys_.emplace_back();
    }
    KeyState& k = keys_[id];
    k.bytes = bytes;
    k.key_group = key_group;
    index_.emplace(k.bytes, id);
    ++live_keys_;
    return id;
  }
  // Forgets key `id` once it holds nothing.
  void release_if_empty(uint32_t id) {
    KeyState& k = keys_[id];
    if (k.live() || k.bytes.empty()) return;
    index_.erase(k.bytes);
    k.bytes.clear();
    k.versions.clear();
    free_keys_.push_back(id);
    --live_keys_;
  }
  void mark(uint32_t id) {
    if (track_dirty_) dirty_.emplace(keys_[id].bytes, keys_[id].key_group);
  }

  void add_versions(const RecordBatch& in) {
    const Column& time = in.column(static_cast<size_t>(c_.version_time));
    for (size_t r = 0; r < in.num_rows; ++r) {
      const RowKind kind = in.row_kind(r);
      if (kind == RowKind::kUpdateBefore || time.is_null(r)) continue;  // the +U after a -U decides
      encode_key(in, c_.table_keys, r, key_buffer_);
      const uint32_t k = find_or_add_key(in, c_.table_keys, r);
      uint32_t row = kNoRow;
      if (kind != RowKind::kDelete) {
        row = static_cast<uint32_t>(versions_.num_rows);
        for (size_t col = 0; col < versions_.columns.size(); ++col) versions_.columns[col].append_from(in.column(col), r);
        versions_.num_rows++;
        ++live_versions_;
      }
      const Micros start = time.int_at(r);
      auto& list = keys_[k].versions;
      auto pos = std::upper_bound(list.begin(), list.end(), start,
                                  [](Micros t, const Version& v) { return t < v.start; });
      if (pos != list.begin() && std::prev(pos)->start == start) {
        Version& same = *std::prev(pos);  // the later change at the same time wins
        if (same.row != kNoRow) --live_versions_;
        same.row = row;
      } else {
        list.insert(pos, Version{start, row});
        ++total_versions_;
      }
      prune(k);
      mark(k);
      release_if_empty(k);
    }
  }

  // Drops the versions of key `id` that no probe row at or after the watermark can see:
  // those older than the newest one starting at or before it (and that one too when it is
  // a deletion, since nothing older is left).
  void prune(uint32_t id) {
    auto& list = keys_[id].versions;
    auto it = std::upper_bound(list.begin(), list.end(), watermark_,
                               [](Micros t, const Version& v) { return t < v.start; });
    if (it == list.begin()) return;
    size_t drop = static_cast<size_t>(it - list.begin()) - 1;
    if (list[drop].row == kNoRow) ++drop;
    if (drop == 0) return;
    for (size_t i = 0; i < drop; ++i) {
      if (list[i].row != kNoRow) --live_versions_;
    }
    list.erase(list.begin(), list.begin() + static_cast<long>(drop));
    total_versions_ -= drop;
    mark(id);
  }

  void add_probe_rows(const RecordBatch& in) {
    const Column& time = in.column(static_cast<size_t>(c_.probe_time));
    const bool inner = c_.type == JoinType::kInner;
    for (size_t r = 0; r < in.num_rows; ++r) {
      if (inner && null_key(in, c_.probe_keys, c_.null_safe, r)) continue;  // can never join
      encode_key(in, c_.probe_keys, r, key_buffer_);
      const uint32_t k = find_or_add_key(in, c_.probe_keys, r);
      const uint32_t row = static_cast<uint32_t>(pending_rows_.num_rows);
      for (size_t col = 0; col < pending_rows_.columns.size(); ++col) {
        pending_rows_.columns[col].append_from(in.column(col), r);
      }
      pending_rows_.num_rows++;
      // A NULL time (no source produces one for its event-time column) is due at once.
      heap_.push_back(Pending{time.is_null(r) ? kMinWatermark : time.int_at(r), seq_++, row, k});
      std::push_heap(heap_.begin(), heap_.end(), later);
      keys_[k].pending++;
      mark(k);
    }
  }

  // The version row of key `k` valid at `time`, or kNoRow.
  uint32_t version_at(uint32_t k, Micros time) const {
    const auto& list = keys_[k].versions;
    auto it = std::upper_bound(list.begin(), list.end(), time, [](Micros t, const Version& v) { return t < v.start; });
    return it == list.begin() ? kNoRow : std::prev(it)->row;
  }

  // Joins and emits the probe rows whose time the watermark has reached, in time order.
  Status emit_ready(Output& out) {
    ready_.clear();
    while (!heap_.empty() && heap_.front().time <= watermark_) {
      std::pop_heap(heap_.begin(), heap_.end(), later);
      ready_.push_back(heap_.back());
      heap_.pop_back();
    }
    if (ready_.empty()) return Status::ok();
    for (size_t begin = 0; begin < ready_.size(); begin += c_.batch_size) {
      const size_t end = std::min(ready_.size(), begin + c_.batch_size);
      RETURN_IF_ERROR(emit_chunk(begin, end, out));
    }
    // Pruned only now: rows of this round may need versions older than the watermark's.
    for (const Pending& p : ready_) {
      KeyState& k = keys_[p.key];
      k.pending--;
      mark(p.key);
      prune(p.key);
      release_if_empty(p.key);
    }
    return Status::ok();
  }

  Status emit_chunk(size_t begin, size_t end, Output& out) {
    probe_idx_.clear();
    version_idx_.clear();
    for (size_t i = begin; i < end; ++i) {
      const Pending& p = ready_[i];
      probe_idx_.push_back(p.row);
      version_idx_.push_back(null_key(pending_rows_, c_.probe_keys, c_.null_safe, p.row) ? kNoRow
                                                                                          : version_at(p.key, p.time));
    }
    return output_.emit(pending_rows_, probe_idx_, versions_, version_idx_, out);
  }

  // Rewrites the row stores without the rows no longer referenced, once those dominate.
  void compact() {
    const size_t dead_versions = versions_.num_rows - live_versions_;
    if (dead_versions >= 1024 && dead_versions >= live_versions_) {
      RecordBatch fresh(versions_.schema);
      gather_.clear();
      for (KeyState& k : keys_) {
        for (Version& v : k.versions) {
          if (v.row == kNoRow) continue;
          gather_.push_back(v.row);
          v.row = static_cast<uint32_t>(gather_.size() - 1);
        }
      }
      for (size_t c = 0; c < fresh.columns.size(); ++c) {
        fresh.columns[c].append_gather(versions_.columns[c], gather_.data(), gather_.size());
      }
      fresh.num_rows = gather_.size();
      versions_ = std::move(fresh);
    }
    const size_t dead_pending = pending_rows_.num_rows - heap_.size();
    if (dead_pending >= 1024 && dead_pending >= heap_.size()) {
      RecordBatch fresh(pending_rows_.schema);
      gather_.clear();
      for (Pending& p : heap_) {
        gather_.push_back(p.row);
        p.row = static_cast<uint32_t>(gather_.size() - 1);
      }
      for (size_t c = 0; c < fresh.columns.size(); ++c) {
        fresh.columns[c].append_gather(pending_rows_.columns[c], gather_.data(), gather_.size());
      }
      fresh.num_rows = gather_.size();
      pending_rows_ = std::move(fresh);
    }
  }

  // Entry of one key: format, version count, per version its start, whether it has a row
  // and the row's values; pending count, per pending row its time, sequence and values.
  void write_entry(uint32_t id, std::string& out) const {
    out.clear();
    ByteWriter w(&out);
    const KeyState& k = keys_[id];
    w.varint(kEntryFormat);
    w.varint(k.versions.size());
    for (const Version& v : k.versions) {
      w.varint(static_cast<uint64_t>(v.start));
      w.varint(v.row == kNoRow ? 0 : 1);
      if (v.row != kNoRow) {
        for (const Column& c : versions_.columns) write_column_value(w, c, v.row);
      }
    }
    const auto& pending = by_key_[id];
    w.varint(pending.size());
    for (uint32_t h : pending) {
      const Pending& p = heap_[h];
      w.varint(static_cast<uint64_t>(p.time));
      w.varint(p.seq);
      for (const Column& c : pending_rows_.columns) write_column_value(w, c, p.row);
    }
  }

  Status read_entry(int key_group, std::string_view key, std::string_view value) {
    ByteReader r(value);
    if (r.varint() != kEntryFormat || !r.ok()) return data_loss("temporal join state: unknown entry format");
    const uint32_t id = add_key(std::string(key), key_group);
    KeyState& k = keys_[id];
    const uint64_t nv = r.varint();
    if (!r.ok() || nv > value.size()) return data_loss("temporal join state: bad version count");
    for (uint64_t i = 0; i < nv; ++i) {
      const Micros start = static_cast<Micros>(r.varint());
      const bool has_row = r.varint() != 0;
      uint32_t row = kNoRow;
      if (has_row) {
        for (Column& c : versions_.columns) RETURN_IF_ERROR(read_column_value(r, c));
        row = static_cast<uint32_t>(versions_.num_rows++);
        ++live_versions_;
      }
      if (!r.ok() || (!k.versions.empty() && k.versions.back().start >= start)) {
        return data_loss("temporal join state: bad version");
      }
      k.versions.push_back(Version{start, row});
      ++total_versions_;
    }
    const uint64_t np = r.varint();
    if (!r.ok() || np > value.size()) return data_loss("temporal join state: bad pending count");
    for (uint64_t i = 0; i < np; ++i) {
      const Micros time = static_cast<Micros>(r.varint());
      const uint64_t seq = r.varint();
      for (Column& c : pending_rows_.columns) RETURN_IF_ERROR(read_column_value(r, c));
      if (!r.ok()) return data_loss("temporal join state: bad pending row");
      heap_.push_back(Pending{time, seq, static_cast<uint32_t>(pending_rows_.num_rows++), id});
      seq_ = std::max(seq_, seq + 1);
      k.pending++;
    }
    if (!r.ok() || !r.at_end()) return data_loss("temporal join state: bad entry");
    return Status::ok();
  }

  const TemporalJoinConfig& c_;
  Micros watermark_ = kMinWatermark;
  std::vector<KeyState> keys_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  std::vector<uint32_t> free_keys_;
  size_t live_keys_ = 0;
  RecordBatch versions_;  // version rows (the version input's columns)
  size_t live_versions_ = 0;
  size_t total_versions_ = 0;  // entries of every key's list, deletions included
  RecordBatch pending_rows_;   // probe rows (the probe input's columns)
  std::vector<Pending> heap_;
  uint64_t seq_ = 0;
  bool track_dirty_ = false;
  absl::flat_hash_map<std::string, int> dirty_;  // keys changed since the last snapshot -> key group
  // Scratch, reused.
  std::string key_buffer_;
  std::vector<Pending> ready_;
  std::vector<uint32_t> probe_idx_, version_idx_, gather_;
  std::vector<std::vector<uint32_t>> by_key_;
  EnrichmentOutput output_;
};

}  // namespace

std::string TemporalJoinOperatorSpec::describe() const {
  const auto& c = config_;
  std::string keys;
  for (size_t k = 0; k < c.probe_keys.size(); ++k) {
    keys += fmt::format("{}L${} {} R${}", k ? ", " : "", c.probe_keys[k],
                        c.null_safe[k] ? "IS NOT DISTINCT FROM" : "=", c.table_keys[k]);
  }
  return fmt::format("{} temporal join on [{}] AS OF L${} (versions by R${}){}", join_type_name(c.type), keys,
                     c.probe_time, c.version_time, c.residual ? " and " + c.residual->to_string() : "");
}

std::unique_ptr<Operator> TemporalJoinOperatorSpec::create() const { return std::make_unique<TemporalJoin>(config_); }

}  // namespace sluice
