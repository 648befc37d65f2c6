#include "operators/topn.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/serde.h"
#include "operators/group_table.h"
#include "types/batch_serde.h"
#include "types/value.h"

namespace sluice {
namespace {

void append_value(Column& c, const Value& v) {
  if (v.is_null) return c.append_null();
  switch (c.type()) {
    case TypeId::kFloat64: return c.append_double(v.d);
    case TypeId::kString: return c.append_string(v.s);
    default: return c.append_int(v.i);
  }
}

// --- Checkpointed state ---
//
// Keyed entries, one per (scope, partition) holding rows: key = i64 window end (0 in
// continuous mode), then the partition's key values (write_column_value); value = varint
// count, then per ranked entry: u64 id, its visible values, its order values (write_cell).
// The key group is that of the partition key (GroupTable::key_hash: the partition columns
// are the hash exchange's keys, window columns included for a windowed top-N).
// In continuous mode what the sink holds (`emitted`) equals the entries between calls —
// process() emits every partition it changed before returning — so it is not written;
// restore sets emitted = entries.
// Instance state, once the instance has seen input: varint partition column count, the u8
// TypeId of each (the partition key schema comes from the first input batch, so a restored
// instance learns it here), u64 next entry id. Entry ids only tell entries apart within a
// partition (continuous mode compares them with the emitted ones), so the largest over the
// old instances is taken.

// A value: u8 tag (bit 7 set when present, bits 0-6 the column's TypeId), then the value
// when present.
void write_cell(ByteWriter& w, const Column& c, size_t row) {
  const bool null = c.is_null(row);
  w.u8(static_cast<uint8_t>(static_cast<uint8_t>(c.type()) | (null ? 0 : 0x80)));
  if (null) return;
  switch (c.type()) {
    case TypeId::kFloat64: w.f64(c.double_at(row)); break;
    case TypeId::kString: w.str(c.string_at(row)); break;
    default: w.i64(c.int_at(row)); break;
  }
}

Value read_value(ByteReader& r) {
  const uint8_t tag = r.u8();
  const uint8_t type = tag & 0x7f;
  if (type > static_cast<uint8_t>(TypeId::kInterval)) {
    r.fail();
    return Value::null();
  }
  Value v = Value::null(static_cast<TypeId>(type));
  if ((tag & 0x80) == 0) return v;
  v.is_null = false;
  switch (v.type) {
    case TypeId::kNull: r.fail(); break;  // a NULL-typed value is never present
    case TypeId::kFloat64: v.d = r.f64(); break;
    case TypeId::kString: v.s = std::string(r.str()); break;
    default: v.i = r.i64(); break;
  }
  return v;
}

void write_scope_key(ByteWriter& w, Micros end, const GroupTable& partitions, uint32_t p) {
  w.i64(end);
  for (const auto& col : partitions.keys().columns) write_column_value(w, col, p);
}

Status data_loss(std::string message) { return Status(StatusCode::kDataLoss, std::move(message)); }

class TopN : public Operator {
 public:
  int64_t state_entries() const override { return static_cast<int64_t>(ids_.live_slots()); }
  explicit TopN(const TopNConfig& c) : c_(c), ids_({}), out_schema_(c.output_schema) {}

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_ = ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    if (!in.is_insert_only()) {
      return unsupported("ROW_NUMBER over an updating input is not supported yet");
    }
    if (!key_schema_checked_) {
      RETURN_IF_ERROR(check_key_schema(*in.schema));
      key_schema_checked_ = true;
    }
    const bool windowed = c_.window_end_column >= 0;
    const bool has_row_wm = !in.row_watermarks.empty();
    Scope* cached = nullptr;
    Micros cached_end = 0;
    for (size_t r = 0; r < in.num_rows; ++r) {
      // Windowed: one scope per window end, freed when the window is emitted.
      Micros end = windowed ? in.column(static_cast<size_t>(c_.window_end_column)).int_at(r) : 0;
      // A window closed for this row (by its own watermark, docs/architecture.md "Time") is
      // never ranked again: a HOP row's closed windows are skipped like a window
      // aggregation's; rows behind all their windows went to the late output upstream.
      if (windowed && ((has_row_wm && end <= in.row_watermarks[r]) || end <= watermark_)) continue;
      if (!cached || cached_end != end) {
        auto it = scopes_.find(end);
        if (it == scopes_.end()) it = scopes_.emplace(end, std::make_unique<Scope>(key_schema_, row_types_)).first;
        cached = it->second.get();
        cached_end = end;
      }
      Scope& scope = *cached;
      uint32_t p = scope.partitions.find_or_insert(in, c_.partition_columns, r, key_buffer_, ids_);
      if (p >= scope.lists.size()) scope.lists.resize(p + 1);
      Partition& part = scope.lists[p];
      // Position of the row among the entries (after equal keys: arrival breaks ties).
      size_t pos = part.entries.size();
      while (pos > 0 && compare_row(in, r, scope, part.entries[pos - 1]) < 0) --pos;
      if (pos >= static_cast<size_t>(c_.limit)) continue;  // not in the top N: nothing stored
      // The row is copied into the scope's columnar row store (no boxing per value).
      Entry e{next_id_++, scope.append_row(in, r, c_)};
      part.entries.insert(part.entries.begin() + static_cast<long>(pos), e);
      if (part.entries.size() > static_cast<size_t>(c_.limit)) {
        part.entries.pop_back();
      } else {
        ++scope.live;
      }
      if (track_) scope.mark_changed(p);
      if (!windowed && !part.dirty) {
        part.dirty = true;
        dirty_.push_back(p);
      }
    }
    if (windowed) {
      for (auto& [end, scope] : scopes_) scope->maybe_compact();
      return Status::ok();
    }
    // Continuous mode: emit changed positions, partitions in key order.
    if (scopes_.empty()) return Status::ok();
    Scope& scope = *scopes_.begin()->second;
    sort_partitions(scope, dirty_);
    for (uint32_t p : dirty_) {
      Partition& part = scope.lists[p];
      part.dirty = false;
      for (size_t i = 0; i < part.entries.size(); ++i) {
        if (i < part.emitted.size() && part.emitted[i].id == part.entries[i].id) continue;
        if (i < part.emitted.size()) RETURN_IF_ERROR(emit(scope, part.emitted[i], i, RowKind::kDelete, out));
        RETURN_IF_ERROR(emit(scope, part.entries[i], i, RowKind::kInsert, out));
      }
      part.emitted = part.entries;
    }
    dirty_.clear();
    // Every emitted row is now an entry again: rows evicted from the top N can go.
    scope.maybe_compact();
    return flush(out);
  }

  Status on_watermark(Micros wm, Output& out) override {
    watermark_ = wm;
    if (c_.window_end_column >= 0) {
      // Windows whose end the watermark reached: final top N, partitions in key order.
      while (!scopes_.empty() && scopes_.begin()->first <= wm) {
        Scope& scope = *scopes_.begin()->second;
        std::vector<uint32_t> order(scope.lists.size());
        for (uint32_t p = 0; p < order.size(); ++p) order[p] = p;
        sort_partitions(scope, order);
        for (uint32_t p : order) {
          const Partition& part = scope.lists[p];
          for (size_t i = 0; i < part.entries.size(); ++i) {
            RETURN_IF_ERROR(emit(scope, part.entries[i], i, RowKind::kInsert, out));
          }
        }
        if (track_) {
          for (uint32_t p = 0; p < scope.lists.size(); ++p) {
            if (scope.lists[p].entries.empty()) continue;  // never written
            std::string key;
            ByteWriter kw(&key);
            write_scope_key(kw, scopes_.begin()->first, scope.partitions, p);
            removed_.emplace_back(key_group_of(scope.partitions.key_hash(p)), std::move(key));
          }
        }
        scopes_.erase(scopes_.begin());
      }
      RETURN_IF_ERROR(flush(out));
    }
    return out.emit_watermark(wm);
  }

  Status finish(Output& out) override { return on_watermark(kMaxWatermark, out); }

  Status snapshot(uint64_t, StateWriter& w) override {
    const bool incremental = w.incremental();
    const bool windowed = c_.window_end_column >= 0;
    if (incremental) {
      for (const auto& [kg, k] : removed_) w.remove(kg, k);
    }
    removed_.clear();
    std::string key, value;
    for (auto& [end, scope_ptr] : scopes_) {
      Scope& scope = *scope_ptr;
      auto write = [&](uint32_t p) {
        key.clear();
        ByteWriter kw(&key);
        write_scope_key(kw, end, scope.partitions, p);
        const int key_group = key_group_of(scope.partitions.key_hash(p));
        const Partition& part = scope.lists[p];
        if (part.entries.empty()) {
          if (incremental) w.remove(key_group, key);
          return;
        }
        SLUICE_ASSERT(windowed || same_ids(part.entries, part.emitted),
                      "top-N: a partition's emitted rows differ from its entries between calls");
        value.clear();
        ByteWriter vw(&value);
        vw.varint(part.entries.size());
        for (const Entry& e : part.entries) {
          vw.u64(e.id);
          for (const Column& col : scope.rows) write_cell(vw, col, e.row);
        }
        w.put(key_group, key, value);
      };
      if (incremental) {
        for (uint32_t p : scope.changed) write(p);
      } else {
        for (uint32_t p = 0; p < scope.lists.size(); ++p) write(p);
      }
      scope.clear_changed();
    }
    if (key_schema_) {
      std::string blob;
      ByteWriter bw(&blob);
      bw.varint(key_schema_->size());
      for (size_t k = 0; k < key_schema_->size(); ++k) bw.u8(static_cast<uint8_t>(key_schema_->field(k).type));
      bw.u64(next_id_);
      w.put_instance_state(blob);
    }
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (!state) return Status::ok();
    for (const auto& blob : state->instance_states()) {
      if (blob.empty()) continue;
      ByteReader r(blob);
      const uint64_t n = r.count(1);
      std::vector<Field> fields;
      for (uint64_t k = 0; k < n && r.ok(); ++k) {
        const uint8_t type = r.u8();
        if (type > static_cast<uint8_t>(TypeId::kInterval)) r.fail();
        fields.push_back({fmt::format("partition_{}", k + 1), static_cast<TypeId>(type), true});
      }
      const uint64_t next_id = r.u64();
      if (r.ok() && !r.at_end()) r.fail();
      RETURN_IF_ERROR(r.status("top-N instance state"));
      if (fields.size() != c_.partition_columns.size()) {
        return data_loss(fmt::format("top-N state has {} partition columns, the operator {}", fields.size(),
                                     c_.partition_columns.size()));
      }
      if (!key_schema_) {
        key_schema_ = make_schema(fields);
      } else {
        for (size_t k = 0; k < fields.size(); ++k) {
          if (fields[k].type != key_schema_->field(k).type) {
            return data_loss("top-N state: the old instances disagree on the partition column types");
          }
        }
      }
      next_id_ = std::max(next_id_, next_id);
    }
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    std::unique_ptr<RecordBatch> scratch;
    if (key_schema_) scratch = std::make_unique<RecordBatch>(key_schema_);
    const bool windowed = c_.window_end_column >= 0;
    const size_t values_per_entry = c_.visible_columns + c_.order_columns.size();
    RETURN_IF_ERROR(state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
      if (!scratch) return data_loss("top-N state has rows but no partition key schema");
      ByteReader kr(key), vr(value);
      const Micros window_end = kr.i64();
      for (auto& col : scratch->columns) {
        col.clear();
        RETURN_IF_ERROR(read_column_value(kr, col));
      }
      scratch->num_rows = 1;
      if (kr.ok() && !kr.at_end()) kr.fail();
      RETURN_IF_ERROR(kr.status("top-N key"));
      if (!windowed && window_end != 0) return data_loss("top-N state: a window in a continuous top-N");
      // The entries' values first (their tags carry the column types, which a restored
      // instance learns here before any input).
      const uint64_t count = vr.count(8 + values_per_entry);
      if (count > static_cast<uint64_t>(std::max<int64_t>(c_.limit, 0))) vr.fail();
      std::vector<uint64_t> entry_ids;
      std::vector<Value> values;
      for (uint64_t i = 0; i < count && vr.ok(); ++i) {
        entry_ids.push_back(vr.u64());
        for (size_t k = 0; k < values_per_entry && vr.ok(); ++k) values.push_back(read_value(vr));
      }
      if (vr.ok() && !vr.at_end()) vr.fail();
      RETURN_IF_ERROR(vr.status("top-N state"));
      if (row_types_.empty() && !entry_ids.empty()) {
        for (size_t k = 0; k < values_per_entry; ++k) {
          row_types_.push_back(k < c_.visible_columns ? out_schema_->field(k).type : values[k].type);
        }
      }
      for (size_t k = 0; k < values.size(); ++k) {
        const TypeId want = row_types_[k % values_per_entry];
        if (values[k].type != want && values[k].type != TypeId::kNull) {
          return data_loss(fmt::format("top-N state: a stored {} where the operator holds {}",
                                       type_name(values[k].type), type_name(want)));
        }
      }
      if (entry_ids.empty()) return Status::ok();  // never written; nothing to hold
      auto it = scopes_.find(window_end);
      if (it == scopes_.end()) it = scopes_.emplace(window_end, std::make_unique<Scope>(key_schema_, row_types_)).first;
      Scope& scope = *it->second;
      const uint32_t p = scope.partitions.insert_key(*scratch, 0, key_buffer_, ids_);
      if (p >= scope.lists.size()) scope.lists.resize(p + 1);
      Partition& part = scope.lists[p];
      if (!part.entries.empty()) return data_loss("top-N state holds a partition twice");
      for (size_t i = 0; i < entry_ids.size(); ++i) {
        part.entries.push_back(Entry{entry_ids[i], scope.append_values(&values[i * values_per_entry])});
        ++scope.live;
        next_id_ = std::max(next_id_, entry_ids[i] + 1);
      }
      if (!windowed) part.emitted = part.entries;
      return Status::ok();
    }));
    return Status::ok();
  }

 private:
  // A ranked row: its arrival id and its row in the scope's row store.
  struct Entry {
    uint64_t id = 0;
    uint32_t row = 0;
  };
  struct Partition {
    std::vector<Entry> entries;  // ranked, at most N
    std::vector<Entry> emitted;  // continuous mode: what the sink holds
    bool dirty = false;
  };
  struct Scope {
    Scope(SchemaPtr key_schema, const std::vector<TypeId>& row_types) : partitions(std::move(key_schema)) {
      for (TypeId t : row_types) rows.emplace_back(t);
    }
    GroupTable partitions;
    std::vector<Partition> lists;
    // Row store: the visible columns, then the order columns, of every row that entered a
    // top N (append-only; rows evicted since are dropped by maybe_compact()).
    std::vector<Column> rows;
    size_t live = 0;    // entries referring to the store
    size_t stored = 0;  // rows in the store

    uint32_t append_row(const RecordBatch& in, size_t r, const TopNConfig& c) {
      const uint32_t row = static_cast<uint32_t>(stored++);
      for (size_t col = 0; col < c.visible_columns; ++col) rows[col].append_from(in.column(col), r);
      for (size_t k = 0; k < c.order_columns.size(); ++k) {
        rows[c.visible_columns + k].append_from(in.column(static_cast<size_t>(c.order_columns[k])), r);
      }
      return row;
    }
    uint32_t append_values(const Value* values) {
      for (size_t k = 0; k < rows.size(); ++k) append_value(rows[k], values[k]);
      return static_cast<uint32_t>(stored++);
    }
    // Rewrites the store with the live rows once evicted ones dominate (amortized O(1) per
    // stored row). Callers ensure every emitted row is an entry (continuous mode: after
    // emitting), so entries and emitted rows are renumbered alike.
    void maybe_compact() {
      if (stored < 1024 || stored < 4 * live) return;
      std::vector<uint32_t> remap(stored, UINT32_MAX);
      std::vector<uint32_t> keep;
      keep.reserve(live);
      auto renumber = [&](Entry& e) {
        if (remap[e.row] == UINT32_MAX) {
          remap[e.row] = static_cast<uint32_t>(keep.size());
          keep.push_back(e.row);
        }
        e.row = remap[e.row];
      };
      for (Partition& part : lists) {
        for (Entry& e : part.entries) renumber(e);
        for (Entry& e : part.emitted) renumber(e);
      }
      for (Column& col : rows) {
        Column fresh(col.type());
        fresh.append_gather(col, keep.data(), keep.size());
        col = std::move(fresh);
      }
      stored = keep.size();
    }
    // Partitions changed since the last snapshot (incremental checkpoints).
    std::vector<uint32_t> changed;
    std::vector<uint8_t> is_changed;
    void mark_changed(uint32_t p) {
      if (is_changed.size() <= p) is_changed.resize(p + 1, 0);
      if (!is_changed[p]) {
        is_changed[p] = 1;
        changed.push_back(p);
      }
    }
    void clear_changed() {
      for (uint32_t p : changed) is_changed[p] = 0;
      changed.clear();
    }
  };

  static bool same_ids(const std::vector<Entry>& a, const std::vector<Entry>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].id != b[i].id) return false;
    }
    return true;
  }

  // Takes the partition key schema from the first input batch, or checks it against the one
  // restored from a checkpoint.
  Status check_key_schema(const Schema& input) {
    std::vector<TypeId> row_types;
    for (size_t col = 0; col < c_.visible_columns; ++col) row_types.push_back(input.field(col).type);
    for (int k : c_.order_columns) row_types.push_back(input.field(static_cast<size_t>(k)).type);
    if (row_types_.empty()) {
      row_types_ = std::move(row_types);
    } else if (row_types_ != row_types) {
      return data_loss("top-N: the input's column types differ from those of the restored state");
    }
    std::vector<Field> fields;
    for (int k : c_.partition_columns) fields.push_back(input.field(static_cast<size_t>(k)));
    if (!key_schema_) {
      key_schema_ = make_schema(fields);
      return Status::ok();
    }
    for (size_t k = 0; k < fields.size(); ++k) {
      if (fields[k].type != key_schema_->field(k).type) {
        return data_loss(fmt::format("top-N: partition column {} is {} in the input but {} in the restored state", k + 1,
                                     type_name(fields[k].type), type_name(key_schema_->field(k).type)));
      }
    }
    return Status::ok();
  }

  // < 0 when batch row r ranks before entry e.
  int compare_row(const RecordBatch& in, size_t r, const Scope& scope, const Entry& e) const {
    for (size_t k = 0; k < c_.order_columns.size(); ++k) {
      const Column& col = in.column(static_cast<size_t>(c_.order_columns[k]));
      const Column& stored = scope.rows[c_.visible_columns + k];
      bool a_null = col.is_null(r), b_null = stored.is_null(e.row);
      int cmp;
      if (a_null || b_null) {
        if (a_null == b_null) continue;
        cmp = a_null == c_.nulls_first[k] ? -1 : 1;
        return cmp;
      }
      cmp = col.compare(r, stored, e.row);
      if (c_.descending[k]) cmp = -cmp;
      if (cmp != 0) return cmp;
    }
    return 0;  // equal keys: the earlier arrival ranks first
  }

  void sort_partitions(const Scope& scope, std::vector<uint32_t>& ps) const {
    const auto& keys = scope.partitions.keys().columns;
    std::sort(ps.begin(), ps.end(), [&](uint32_t a, uint32_t b) {
      for (const auto& col : keys) {
        int c = col.compare(a, col, b);
        if (c != 0) return c < 0;
      }
      return a < b;
    });
  }

  Status emit(const Scope& scope, const Entry& e, size_t rank, RowKind kind, Output& out) {
    if (!current_) current_ = make_batch(out_schema_);
    RecordBatch& b = *current_;
    for (size_t col = 0; col < c_.visible_columns; ++col) b.columns[col].append_from(scope.rows[col], e.row);
    b.columns[c_.visible_columns].append_int(static_cast<int64_t>(rank) + 1);
    b.num_rows++;
    if (kind != RowKind::kInsert || !b.row_kinds.empty()) {
      b.row_kinds.resize(b.num_rows - 1, RowKind::kInsert);
      b.row_kinds.push_back(kind);
    }
    if (b.num_rows >= c_.batch_size) return flush(out);
    return Status::ok();
  }

  Status flush(Output& out) {
    if (!current_ || current_->num_rows == 0) return Status::ok();
    BatchPtr b = std::move(current_);
    current_.reset();
    return out.emit(std::move(b));
  }

  const TopNConfig& c_;
  AggregateStore ids_;
  SchemaPtr out_schema_;
  SchemaPtr key_schema_;
  std::vector<TypeId> row_types_;  // of the row store: visible columns, then order columns
  std::map<Micros, std::unique_ptr<Scope>> scopes_;  // by window end (one scope when continuous)
  std::vector<uint32_t> dirty_;
  std::string key_buffer_;
  uint64_t next_id_ = 1;
  MutableBatchPtr current_;
  bool key_schema_checked_ = false;
  Micros watermark_ = kMinWatermark;  // the last watermark received
  bool track_ = false;  // incremental snapshots: remember changes for incremental snapshots
  std::vector<std::pair<int, std::string>> removed_;  // (key group, key) of windows emitted since the last snapshot
};

}  // namespace

std::string TopNOperatorSpec::describe() const {
  std::string part, order;
  for (int p : config_.partition_columns) part += fmt::format("{}${}", part.empty() ? "" : ", ", p);
  for (size_t i = 0; i < config_.order_columns.size(); ++i) {
    order += fmt::format("{}${}{}", order.empty() ? "" : ", ", config_.order_columns[i],
                         config_.descending[i] ? " DESC" : "");
  }
  return fmt::format("partition by [{}] order by [{}] rank <= {}{}", part, order, config_.limit,
                     config_.window_end_column >= 0 ? fmt::format(", per window (end ${})", config_.window_end_column)
                                                    : ", continuous (retract + insert)");
}

std::unique_ptr<Operator> TopNOperatorSpec::create() const { return std::make_unique<TopN>(config_); }

}  // namespace sluice
