#include "operators/aggregate.h"

#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/serde.h"
#include "operators/change_set.h"
#include "operators/group_table.h"
#include "types/batch_serde.h"

namespace sluice {
namespace {

// Builds output batches of at most batch_size rows and emits them when full.
class OutputBuilder {
 public:
  OutputBuilder(SchemaPtr schema, size_t batch_size) : schema_(std::move(schema)), batch_size_(batch_size) {}
  RecordBatch& batch() {
    if (!current_) current_ = make_batch(schema_);
    return *current_;
  }
  Status row_done(RowKind kind, Output& out) {
    RecordBatch& b = batch();
    b.num_rows++;
    if (kind != RowKind::kInsert || !b.row_kinds.empty()) {
      b.row_kinds.resize(b.num_rows - 1, RowKind::kInsert);
      b.row_kinds.push_back(kind);
    }
    if (b.num_rows >= batch_size_) return flush(out);
    return Status::ok();
  }
  Status flush(Output& out) {
    if (!current_ || current_->num_rows == 0) return Status::ok();
    BatchPtr b = std::move(current_);
    current_.reset();
    return out.emit(std::move(b));
  }

 private:
  SchemaPtr schema_;
  size_t batch_size_;
  MutableBatchPtr current_;
};

// Appends one result row [window_start, window_end, keys..., aggregates...] for `group`.
Status emit_window_row(OutputBuilder& builder, Micros start, Micros end, const RecordBatch& keys, uint32_t group,
                       const AggregateStore& store, uint32_t slot, RowKind kind, Output& out) {
  RecordBatch& b = builder.batch();
  size_t col = 0;
  b.columns[col++].append_int(start);
  b.columns[col++].append_int(end);
  for (const auto& key : keys.columns) b.columns[col++].append_from(key, group);
  for (size_t a = 0; a < store.specs().size(); ++a) store.append_result(a, slot, b.columns[col++]);
  return builder.row_done(kind, out);
}

// --- Checkpointed state of the grouped aggregates ---
//
// Keyed entries: key = [window end, window start (windowed only)] + the group's key values;
// value = [flags] + the aggregate slot (AggregateStore::serialize_slot). The key group of
// an entry is that of its group key, the same the hash exchange routes rows by, so a
// restored instance receives exactly the groups it owns under the new parallelism. The
// instance state holds the store's arrival counter (ties by arrival stay ordered after a
// restore: the max over the old instances is taken).
//
// Incremental snapshots (RocksDB): the operators remember the groups changed and the
// groups removed since the previous snapshot and write only those.

void write_group_key(ByteWriter& w, const RecordBatch& keys, uint32_t g) {
  for (const auto& col : keys.columns) write_column_value(w, col, g);
}

// Reads one group key into `scratch` (one row, the key schema).
Status read_group_key(ByteReader& r, RecordBatch& scratch) {
  for (auto& col : scratch.columns) {
    col.clear();
    RETURN_IF_ERROR(read_column_value(r, col));
  }
  scratch.num_rows = 1;
  return Status::ok();
}

int key_group_of_group(const GroupTable& table, uint32_t g) { return key_group_of(table.key_hash(g)); }

// Instance state of every grouped aggregate: u64 arrival counter, i64 watermark. On
// restore the largest counter and the smallest watermark over the old instances are taken:
// the watermark only decides lateness of rows that carry no row watermark, and the smallest
// never drops a row an old instance would have accepted.
std::string aggregate_instance_state(const AggregateStore& store, Micros watermark) {
  std::string blob;
  ByteWriter w(&blob);
  w.u64(store.arrival_counter());
  w.i64(watermark);
  return blob;
}

Status restore_aggregate_instance(StateRestore& state, AggregateStore& store, Micros* watermark) {
  uint64_t counter = store.arrival_counter();
  Micros wm = kMaxWatermark;
  bool any = false;
  for (const auto& blob : state.instance_states()) {
    if (blob.empty()) continue;
    ByteReader r(blob);
    counter = std::max(counter, r.u64());
    wm = std::min(wm, r.i64());
    RETURN_IF_ERROR(r.status("aggregate instance state"));
    any = true;
  }
  store.set_arrival_counter(counter);
  if (any && watermark) *watermark = wm;
  return Status::ok();
}

Status check_checkpointable(const AggregateStore& store, const char* what) {
  std::string why;
  if (!store.checkpointable(&why)) return unsupported("{} cannot be checkpointed: {}", what, why);
  return Status::ok();
}

constexpr uint8_t kDirtyUpdated = 1, kDirtyNew = 2;

class WindowAggregate : public Operator {
 public:
  int64_t state_entries() const override { return static_cast<int64_t>(store_.live_slots()); }
  explicit WindowAggregate(const AggregateConfig& c) : c_(c), store_(c.aggregates), out_(c.output_schema, c.batch_size) {}

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    const Column& ts = in.column(static_cast<size_t>(c_.time_column));
    const bool has_row_wm = !in.row_watermarks.empty();
    rows_.clear();
    slots_.clear();
    Window* cached = nullptr;
    Micros cached_start = 0;
    uint64_t late = 0;
    for (size_t r = 0; r < in.num_rows; ++r) {
      if (ts.is_null(r)) {
        ++late;
        continue;
      }
      const Micros t = ts.int_at(r);
      const Micros row_wm = has_row_wm ? in.row_watermarks[r] : watermark_;
      bool accepted = false;
      c_.window.for_each_window(t, [&](Micros start) {
        const Micros end = start + c_.window.size;
        if (end + c_.allowed_lateness <= row_wm || end + c_.allowed_lateness <= watermark_) return;
        Window* w;
        if (cached && cached_start == start) {
          w = cached;
        } else {
          auto it = windows_.find({end, start});
          if (it == windows_.end()) {
            it = windows_.emplace(std::make_pair(end, start), std::make_unique<Window>(c_.key_schema)).first;
          }
          w = it->second.get();
          cached = w;
          cached_start = start;
        }
        const size_t groups_before = w->table.size();
        uint32_t group = w->table.find_or_insert(in, c_.key_columns, r, key_buffer_, store_);
        rows_.push_back(static_cast<uint32_t>(r));
        slots_.push_back(w->table.slot(group));
        // A group new to a fired window was never emitted: its first row is +I.
        if (w->fired) w->mark_dirty(group, w->table.size() > groups_before);
        if (track_) w->changed.mark(group);
        accepted = true;
      });
      if (!accepted) ++late;
    }
    if (late) ctx_.metrics->add_late(late);
    store_.update(in, rows_.data(), slots_.data(), rows_.size());
    // Allowed-lateness updates of windows that already fired.
    for (auto& [key, w] : windows_) {
      if (!w->fired || w->dirty.empty()) continue;
      std::sort(w->dirty.begin(), w->dirty.end(), [&](uint32_t a, uint32_t b) {
        for (const auto& col : w->table.keys().columns) {
          int cmp = col.compare(a, col, b);
          if (cmp != 0) return cmp < 0;
        }
        return a < b;
      });
      for (uint32_t g : w->dirty) {
        const RowKind kind = w->is_dirty[g] == kDirtyNew ? RowKind::kInsert : RowKind::kUpdateAfter;
        RETURN_IF_ERROR(emit_group(key.second, key.first, *w, g, kind, out));
      }
      w->clear_dirty();
    }
    note_open_window();
    return out_.flush(out);
  }

  // The end of the oldest window the watermark has not reached (the REST API's "why has
  // this window not fired"): one map search per batch.
  void note_open_window() {
    auto it = windows_.upper_bound({watermark_, kMaxWatermark});
    ctx_.metrics->open_window_end.set(it == windows_.end() ? kMaxWatermark : it->first.first);
  }

  Status on_watermark(Micros wm, Output& out) override {
    watermark_ = wm;
    for (auto it = windows_.begin(); it != windows_.end();) {
      const Micros end = it->first.first, start = it->first.second;
      if (end > wm) break;  // map is ordered by end: nothing later can fire
      Window& w = *it->second;
      if (!w.fired) {
        for (uint32_t g : w.table.sorted_groups()) RETURN_IF_ERROR(emit_group(start, end, w, g, RowKind::kInsert, out));
        w.fired = true;
        if (track_) {
          for (uint32_t g = 0; g < w.table.size(); ++g) w.changed.mark(g);  // the fired flag is in every entry
        }
      }
      if (c_.allowed_lateness == 0 || end + c_.allowed_lateness <= wm || wm == kMaxWatermark) {
        if (track_) {
          for (uint32_t g = 0; g < w.table.size(); ++g) {
            std::string key;
            ByteWriter kw(&key);
            kw.i64(end);
            kw.i64(start);
            write_group_key(kw, w.table.keys(), g);
            removed_.emplace_back(key_group_of_group(w.table, g), std::move(key));
          }
        }
        w.table.release_all(store_);
        it = windows_.erase(it);
      } else {
        ++it;
      }
    }
    note_open_window();
    RETURN_IF_ERROR(out_.flush(out));
    return out.emit_watermark(wm);
  }

  Status finish(Output& out) override { return on_watermark(kMaxWatermark, out); }

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_ = ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status snapshot(uint64_t, StateWriter& w) override {
    RETURN_IF_ERROR(check_checkpointable(store_, "window aggregate"));
    std::string key, value;
    const bool incremental = w.incremental();
    if (incremental) {
      for (const auto& [kg, k] : removed_) w.remove(kg, k);
    }
    removed_.clear();
    for (auto& [when, win] : windows_) {
      Window& win_ref = *win;
      auto put = [&](uint32_t g) {
        key.clear();
        value.clear();
        ByteWriter kw(&key), vw(&value);
        kw.i64(when.first);
        kw.i64(when.second);
        write_group_key(kw, win_ref.table.keys(), g);
        vw.u8(win_ref.fired ? 1 : 0);
        store_.serialize_slot(win_ref.table.slot(g), vw);
        w.put(key_group_of_group(win_ref.table, g), key, value);
      };
      win_ref.changed.for_snapshot(incremental, win_ref.table.size(), put);
    }
    w.put_instance_state(aggregate_instance_state(store_, watermark_));
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (!state) return Status::ok();
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    RecordBatch scratch(c_.key_schema);
    RETURN_IF_ERROR(state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
      ByteReader kr(key), vr(value);
      const Micros wend = kr.i64(), wstart = kr.i64();
      RETURN_IF_ERROR(read_group_key(kr, scratch));
      RETURN_IF_ERROR(kr.status("window aggregate key"));
      auto it = windows_.find({wend, wstart});
      if (it == windows_.end()) {
        it = windows_.emplace(std::make_pair(wend, wstart), std::make_unique<Window>(c_.key_schema)).first;
      }
      Window& win = *it->second;
      if (vr.u8() != 0) win.fired = true;
      uint32_t g = win.table.insert_key(scratch, 0, key_buffer_, store_);
      RETURN_IF_ERROR(store_.deserialize_slot(vr, win.table.slot(g)));
      return vr.status("window aggregate state");
    }));
    return restore_aggregate_instance(*state, store_, &watermark_);
  }

 private:
  struct Window {
    explicit Window(SchemaPtr key_schema) : table(std::move(key_schema)) {}
    GroupTable table;
    bool fired = false;
    ChangeSet changed;  // since the last snapshot (incremental checkpoints)
    std::vector<uint32_t> dirty;
    std::vector<uint8_t> is_dirty;  // 0, kDirtyUpdated or kDirtyNew (created since the window fired)
    void mark_dirty(uint32_t g, bool is_new) {
      if (is_dirty.size() <= g) is_dirty.resize(g + 1, 0);
      if (!is_dirty[g]) {
        is_dirty[g] = is_new ? kDirtyNew : kDirtyUpdated;
        dirty.push_back(g);
      }
    }
    void clear_dirty() {
      for (uint32_t g : dirty) is_dirty[g] = 0;
      dirty.clear();
    }
  };

  Status emit_group(Micros start, Micros end, const Window& w, uint32_t g, RowKind kind, Output& out) {
    return emit_window_row(out_, start, end, w.table.keys(), g, store_, w.table.slot(g), kind, out);
  }

  const AggregateConfig& c_;
  AggregateStore store_;
  OutputBuilder out_;
  std::map<std::pair<Micros, Micros>, std::unique_ptr<Window>> windows_;  // (end, start)
  Micros watermark_ = kMinWatermark;
  bool track_ = false;  // incremental snapshots: remember changes for incremental snapshots
  std::vector<std::pair<int, std::string>> removed_;  // (key group, key) purged since the last snapshot
  std::string key_buffer_;
  std::vector<uint32_t> rows_;
  std::vector<uint32_t> slots_;
};


// --- Checkpointed state of session windows ---
//
// One keyed entry per group key, holding all its open sessions (a key's sessions merge with
// one another, so they travel together): key = the group's key values (write_group_key);
// value = varint session count, then per session in list order: i64 start, i64 end, u8
// flags (bit 0 fired, bit 1 emitted), when emitted the i64 start and end of the row the sink
// holds, then the aggregate slot (AggregateStore::serialize_slot). The unfired / purge
// queues are derived from the sessions on restore. A key whose last session was purged is
// removed (incremental) or simply not written (full).
// Instance state: see aggregate_instance_state.
constexpr uint8_t kSessionFired = 1, kSessionEmitted = 2;


// SESSION windows: per key, a sorted list of sessions [start, last event + gap). A row opens
// [ts, ts + gap) and merges every session it overlaps or touches (Flink's rule); their
// aggregate slots are folded together. A session fires when the watermark reaches its end
// and is kept until end + allowed_lateness for late-but-allowed rows; a fired session that
// changes is emitted again (+U), and one merged away under another start is retracted (-D),
// so an upsert sink keyed by (key, window_start) ends with exactly the final sessions.
class SessionAggregate : public Operator {
 public:
  int64_t state_entries() const override { return static_cast<int64_t>(store_.live_slots()); }
  explicit SessionAggregate(const AggregateConfig& c)
      : c_(c), store_(c.aggregates), ids_({}), groups_(c.key_schema), out_(c.output_schema, c.batch_size) {}

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    const Column& ts = in.column(static_cast<size_t>(c_.time_column));
    const bool has_row_wm = !in.row_watermarks.empty();
    const Micros gap = c_.window.size, lateness = c_.allowed_lateness;
    uint64_t late = 0;
    for (size_t r = 0; r < in.num_rows; ++r) {
      if (ts.is_null(r)) {
        ++late;
        continue;
      }
      const Micros t = ts.int_at(r);
      const Micros row_wm = has_row_wm ? in.row_watermarks[r] : watermark_;
      if (t + gap + lateness <= row_wm || t + gap + lateness <= watermark_) {
        ++late;
        continue;
      }
      uint32_t g = groups_.find_or_insert(in, c_.key_columns, r, key_buffer_, ids_);
      if (g >= sessions_.size()) sessions_.resize(g + 1);
      std::vector<Session>& list = sessions_[g];
      const Micros lo = t, hi = t + gap;
      hits_.clear();
      for (size_t i = 0; i < list.size(); ++i) {
        // A session closed for this row's watermark is final, even if not purged yet: the
        // purge happens at the next watermark, whose timing depends on batch boundaries.
        if (list[i].end + lateness <= row_wm) continue;
        if (list[i].start <= hi && list[i].end >= lo) hits_.push_back(i);
      }
      size_t target;
      if (hits_.empty()) {
        Session s{lo, hi, store_.allocate()};
        auto pos = std::lower_bound(list.begin(), list.end(), lo,
                                    [](const Session& a, Micros start) { return a.start < start; });
        target = static_cast<size_t>(pos - list.begin());
        list.insert(pos, s);
        unfired_.insert({hi, g, lo});
      } else {
        target = hits_[0];
        if (hits_.size() > 1) RETURN_IF_ERROR(flush_pending(in));
        Micros new_start = std::min(list[target].start, lo), new_end = hi;
        bool fired = false;
        for (size_t j : hits_) {
          new_end = std::max(new_end, list[j].end);
          fired = fired || list[j].fired;
        }
        Session& keep = list[target];
        for (size_t k = 1; k < hits_.size(); ++k) {
          Session& other = list[hits_[k]];
          if (other.emitted) RETURN_IF_ERROR(emit_session(g, other.emitted_start, other.emitted_end, other.slot, RowKind::kDelete, out));
          store_.merge(keep.slot, other.slot);
          store_.release(other.slot);
          forget(g, other);
        }
        if (keep.emitted && keep.emitted_start != new_start) {
          RETURN_IF_ERROR(emit_session(g, keep.emitted_start, keep.emitted_end, keep.slot, RowKind::kDelete, out));
          keep.emitted = false;
        }
        if (new_start != keep.start || new_end != keep.end || fired != keep.fired) {
          forget(g, keep);
          keep.start = new_start;
          keep.end = new_end;
          keep.fired = fired;
          if (fired) {
            purge_.insert({keep.end + lateness, g, keep.start});
          } else {
            unfired_.insert({keep.end, g, keep.start});
          }
        }
        for (size_t k = hits_.size(); k-- > 1;) list.erase(list.begin() + static_cast<long>(hits_[k]));
      }
      Session& s = list[target];
      if (track_) changed_.mark(g);
      pending_rows_.push_back(static_cast<uint32_t>(r));
      pending_slots_.push_back(s.slot);
      if (s.fired && !s.dirty) {
        s.dirty = true;
        dirty_groups_.push_back(g);
      }
    }
    if (late) ctx_.metrics->add_late(late);
    RETURN_IF_ERROR(flush_pending(in));
    // Updates of sessions that had already fired.
    std::sort(dirty_groups_.begin(), dirty_groups_.end());
    dirty_groups_.erase(std::unique(dirty_groups_.begin(), dirty_groups_.end()), dirty_groups_.end());
    std::vector<std::pair<uint32_t, size_t>> updates;
    for (uint32_t g : dirty_groups_) {
      for (size_t i = 0; i < sessions_[g].size(); ++i) {
        if (sessions_[g][i].dirty) updates.push_back({g, i});
      }
    }
    sort_by_key(updates);
    for (auto [g, i] : updates) {
      Session& s = sessions_[g][i];
      RETURN_IF_ERROR(emit_session(g, s.start, s.end, s.slot, s.emitted ? RowKind::kUpdateAfter : RowKind::kInsert, out));
      s.emitted = true;
      s.emitted_start = s.start;
      s.emitted_end = s.end;
      s.dirty = false;
    }
    dirty_groups_.clear();
    note_open_window();
    return out_.flush(out);
  }

  void note_open_window() {
    ctx_.metrics->open_window_end.set(unfired_.empty() ? kMaxWatermark : std::get<0>(*unfired_.begin()));
  }

  Status on_watermark(Micros wm, Output& out) override {
    watermark_ = wm;
    // Fire sessions whose end the watermark reached, in (end, start, key) order.
    std::vector<std::pair<uint32_t, size_t>> fire;
    while (!unfired_.empty() && std::get<0>(*unfired_.begin()) <= wm) {
      auto [end, g, start] = *unfired_.begin();
      unfired_.erase(unfired_.begin());
      fire.push_back({g, index_of(g, start)});
    }
    sort_by_key(fire);
    for (auto [g, i] : fire) {
      Session& s = sessions_[g][i];
      RETURN_IF_ERROR(emit_session(g, s.start, s.end, s.slot, RowKind::kInsert, out));
      if (track_) changed_.mark(g);
      s.fired = true;
      s.emitted = true;
      s.emitted_start = s.start;
      s.emitted_end = s.end;
      if (c_.allowed_lateness > 0 && wm != kMaxWatermark) purge_.insert({s.end + c_.allowed_lateness, g, s.start});
      else purge_now_.push_back({g, s.start});
    }
    while (!purge_.empty() && (std::get<0>(*purge_.begin()) <= wm || wm == kMaxWatermark)) {
      auto [until, g, start] = *purge_.begin();
      purge_.erase(purge_.begin());
      purge_now_.push_back({g, start});
    }
    for (auto [g, start] : purge_now_) {
      auto& list = sessions_[g];
      size_t i = index_of(g, start);
      store_.release(list[i].slot);
      list.erase(list.begin() + static_cast<long>(i));
      if (track_) changed_.mark(g);
    }
    purge_now_.clear();
    note_open_window();
    RETURN_IF_ERROR(out_.flush(out));
    return out.emit_watermark(wm);
  }

  Status finish(Output& out) override { return on_watermark(kMaxWatermark, out); }

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_ = ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status snapshot(uint64_t, StateWriter& w) override {
    RETURN_IF_ERROR(check_checkpointable(store_, "session window aggregate"));
    const bool incremental = w.incremental();
    std::string key, value;
    auto write = [&](uint32_t g) {
      key.clear();
      ByteWriter kw(&key);
      write_group_key(kw, groups_.keys(), g);
      const int key_group = key_group_of_group(groups_, g);
      if (g >= sessions_.size() || sessions_[g].empty()) {
        if (incremental) w.remove(key_group, key);
        return;
      }
      value.clear();
      ByteWriter vw(&value);
      vw.varint(sessions_[g].size());
      for (const Session& s : sessions_[g]) {
        vw.i64(s.start);
        vw.i64(s.end);
        vw.u8(static_cast<uint8_t>((s.fired ? kSessionFired : 0) | (s.emitted ? kSessionEmitted : 0)));
        if (s.emitted) {
          vw.i64(s.emitted_start);
          vw.i64(s.emitted_end);
        }
        store_.serialize_slot(s.slot, vw);
      }
      w.put(key_group, key, value);
    };
    changed_.for_snapshot(incremental, sessions_.size(), write);
    w.put_instance_state(aggregate_instance_state(store_, watermark_));
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (!state) return Status::ok();
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    RecordBatch scratch(c_.key_schema);
    RETURN_IF_ERROR(state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
      ByteReader kr(key), vr(value);
      RETURN_IF_ERROR(read_group_key(kr, scratch));
      if (!kr.at_end()) kr.fail();
      RETURN_IF_ERROR(kr.status("session window key"));
      const uint32_t g = groups_.insert_key(scratch, 0, key_buffer_, ids_);
      if (g >= sessions_.size()) sessions_.resize(g + 1);
      std::vector<Session>& list = sessions_[g];
      if (!list.empty()) return Status(StatusCode::kDataLoss, "session window state holds a key twice");
      // Each session takes at least 17 bytes (start, end, flags) before its slot.
      const uint64_t count = vr.count(17);
      for (uint64_t i = 0; i < count && vr.ok(); ++i) {
        Session s;
        s.start = vr.i64();
        s.end = vr.i64();
        const uint8_t flags = vr.u8();
        if ((flags & ~(kSessionFired | kSessionEmitted)) != 0 || s.end < s.start ||
            (!list.empty() && s.start < list.back().start)) {
          vr.fail();
          break;
        }
        s.fired = (flags & kSessionFired) != 0;
        s.emitted = (flags & kSessionEmitted) != 0;
        if (s.emitted) {
          s.emitted_start = vr.i64();
          s.emitted_end = vr.i64();
        }
        s.slot = store_.allocate();
        list.push_back(s);  // owns the slot from here on, even if reading it fails
        RETURN_IF_ERROR(store_.deserialize_slot(vr, s.slot));
      }
      if (vr.ok() && !vr.at_end()) vr.fail();
      RETURN_IF_ERROR(vr.status("session window state"));
      for (const Session& s : list) {
        if (s.fired) {
          purge_.insert({s.end + c_.allowed_lateness, g, s.start});
        } else {
          unfired_.insert({s.end, g, s.start});
        }
      }
      return Status::ok();
    }));
    return restore_aggregate_instance(*state, store_, &watermark_);
  }

 private:
  struct Session {
    Micros start = 0, end = 0;
    uint32_t slot = 0;
    bool fired = false, emitted = false, dirty = false;
    Micros emitted_start = 0, emitted_end = 0;
  };

  size_t index_of(uint32_t g, Micros start) const {
    const auto& list = sessions_[g];
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].start == start) return i;
    }
    SLUICE_ASSERT(false, "session of group {} starting at {} not found", g, start);
    return 0;
  }
  void forget(uint32_t g, const Session& s) {
    if (s.fired) purge_.erase({s.end + c_.allowed_lateness, g, s.start});
    else unfired_.erase({s.end, g, s.start});
  }
  Status flush_pending(const RecordBatch& in) {
    if (!pending_rows_.empty()) store_.update(in, pending_rows_.data(), pending_slots_.data(), pending_rows_.size());
    pending_rows_.clear();
    pending_slots_.clear();
    return Status::ok();
  }
  void sort_by_key(std::vector<std::pair<uint32_t, size_t>>& v) {
    const auto& keys = groups_.keys().columns;
    std::sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
      const Session& x = sessions_[a.first][a.second];
      const Session& y = sessions_[b.first][b.second];
      if (x.end != y.end) return x.end < y.end;
      if (x.start != y.start) return x.start < y.start;
      for (const auto& col : keys) {
        int c = col.compare(a.first, col, b.first);
        if (c != 0) return c < 0;
      }
      return false;
    });
  }
  Status emit_session(uint32_t g, Micros start, Micros end, uint32_t slot, RowKind kind, Output& out) {
    return emit_window_row(out_, start, end, groups_.keys(), g, store_, slot, kind, out);
  }

  const AggregateConfig& c_;
  AggregateStore store_;
  AggregateStore ids_;  // no aggregates: GroupTable only needs ids for its groups
  GroupTable groups_;
  OutputBuilder out_;
  std::vector<std::vector<Session>> sessions_;
  std::set<std::tuple<Micros, uint32_t, Micros>> unfired_;  // (end, group, start)
  std::set<std::tuple<Micros, uint32_t, Micros>> purge_;    // (end + lateness, group, start)
  std::vector<std::pair<uint32_t, Micros>> purge_now_;
  std::vector<uint32_t> dirty_groups_;
  std::vector<uint32_t> pending_rows_, pending_slots_;
  std::vector<size_t> hits_;
  Micros watermark_ = kMinWatermark;
  std::string key_buffer_;
  bool track_ = false;  // incremental snapshots: remember changed keys for incremental snapshots
  ChangeSet changed_;   // groups whose sessions changed since the last snapshot
};

class GroupAggregate : public Operator {
 public:
  int64_t state_entries() const override { return static_cast<int64_t>(store_.live_slots()); }
  explicit GroupAggregate(const AggregateConfig& c)
      : c_(c), store_(c.aggregates), table_(c.key_schema), out_(c.output_schema, c.batch_size) {}

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    rows_.resize(in.num_rows);
    slots_.resize(in.num_rows);
    for (size_t r = 0; r < in.num_rows; ++r) {
      uint32_t g = table_.find_or_insert(in, c_.key_columns, r, key_buffer_, store_);
      if (emitted_.size() <= g) {
        emitted_.resize(g + 1, 0);
        is_dirty_.resize(g + 1, 0);
      }
      if (!is_dirty_[g]) {
        is_dirty_[g] = 1;
        dirty_.push_back(g);
        if (track_) changed_.mark(g);
      }
      rows_[r] = static_cast<uint32_t>(r);
      slots_[r] = table_.slot(g);
    }
    store_.update(in, rows_.data(), slots_.data(), in.num_rows);
    for (uint32_t g : dirty_) {
      RETURN_IF_ERROR(emit_group(g, emitted_[g] ? RowKind::kUpdateAfter : RowKind::kInsert, out));
      emitted_[g] = 1;
      is_dirty_[g] = 0;
    }
    dirty_.clear();
    return out_.flush(out);
  }

  Status finish(Output& out) override {
    if (c_.key_columns.empty() && table_.size() == 0) {
      // SQL: a global aggregate over no rows still has one row (COUNT = 0, others NULL).
      RecordBatch& b = out_.batch();
      uint32_t slot = store_.allocate();
      for (size_t a = 0; a < c_.aggregates.size(); ++a) store_.append_result(a, slot, b.columns[a]);
      store_.release(slot);
      RETURN_IF_ERROR(out_.row_done(RowKind::kInsert, out));
    }
    return out_.flush(out);
  }

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_ = ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status snapshot(uint64_t, StateWriter& w) override {
    RETURN_IF_ERROR(check_checkpointable(store_, "group aggregate"));
    std::string key, value;
    auto put = [&](uint32_t g) {
      key.clear();
      value.clear();
      ByteWriter kw(&key), vw(&value);
      write_group_key(kw, table_.keys(), g);
      vw.u8(emitted_[g]);
      store_.serialize_slot(table_.slot(g), vw);
      w.put(key_group_of_group(table_, g), key, value);
    };
    changed_.for_snapshot(w.incremental(), table_.size(), put);
    w.put_instance_state(aggregate_instance_state(store_, kMinWatermark));
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (!state) return Status::ok();
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    RecordBatch scratch(c_.key_schema);
    RETURN_IF_ERROR(state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
      ByteReader kr(key), vr(value);
      RETURN_IF_ERROR(read_group_key(kr, scratch));
      RETURN_IF_ERROR(kr.status("group aggregate key"));
      uint32_t g = table_.insert_key(scratch, 0, key_buffer_, store_);
      if (emitted_.size() <= g) {
        emitted_.resize(g + 1, 0);
        is_dirty_.resize(g + 1, 0);
      }
      emitted_[g] = vr.u8();
      RETURN_IF_ERROR(store_.deserialize_slot(vr, table_.slot(g)));
      return vr.status("group aggregate state");
    }));
    return restore_aggregate_instance(*state, store_, nullptr);
  }

 private:
  Status emit_group(uint32_t g, RowKind kind, Output& out) {
    RecordBatch& b = out_.batch();
    size_t col = 0;
    for (size_t k = 0; k < c_.key_columns.size(); ++k) b.columns[col++].append_from(table_.keys().columns[k], g);
    for (size_t a = 0; a < c_.aggregates.size(); ++a) store_.append_result(a, table_.slot(g), b.columns[col++]);
    return out_.row_done(kind, out);
  }

  const AggregateConfig& c_;
  AggregateStore store_;
  GroupTable table_;
  OutputBuilder out_;
  std::string key_buffer_;
  std::vector<uint32_t> rows_, slots_, dirty_;
  std::vector<uint8_t> emitted_, is_dirty_;
  bool track_ = false;
  ChangeSet changed_;
};

}  // namespace

std::string AggregateOperatorSpec::describe() const {
  std::string keys, aggs;
  for (int k : config_.key_columns) keys += fmt::format("{}${}", keys.empty() ? "" : ", ", k);
  for (const auto& a : config_.aggregates) aggs += (aggs.empty() ? "" : ", ") + a.describe();
  std::string window = config_.windowed
                           ? fmt::format("{} on ${}{}, ", config_.window.describe(), config_.time_column,
                                         config_.allowed_lateness
                                             ? fmt::format(" allowed_lateness {}", format_duration(config_.allowed_lateness))
                                             : "")
                           : "";
  return fmt::format("{}keys [{}] aggregates [{}]", window, keys, aggs);
}

std::unique_ptr<Operator> AggregateOperatorSpec::create() const {
  if (config_.windowed && config_.window.kind == WindowSpec::Kind::kSession) return std::make_unique<SessionAggregate>(config_);
  if (config_.windowed) return std::make_unique<WindowAggregate>(config_);
  return std::make_unique<GroupAggregate>(config_);
}

}  // namespace sluice
