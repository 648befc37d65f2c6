#include "operators/topn.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "operators/group_table.h"
#include "types/value.h"

namespace sluice {
namespace {

Value value_at(const Column& c, size_t row) {
  if (c.is_null(row)) return Value::null(c.type());
  switch (c.type()) {
    case TypeId::kFloat64: return Value::float64(c.double_at(row));
    case TypeId::kString: return Value::string(std::string(c.string_at(row)));
    default: {
      Value v = Value::int64(c.int_at(row));
      v.type = c.type();
      return v;
    }
  }
}

void append_value(Column& c, const Value& v) {
  if (v.is_null) return c.append_null();
  switch (c.type()) {
    case TypeId::kFloat64: return c.append_double(v.d);
    case TypeId::kString: return c.append_string(v.s);
    default: return c.append_int(v.i);
  }
}

// Compares a batch row's value with a stored value of the same column type.
int compare_value(const Column& c, size_t row, const Value& v) {
  bool a_null = c.is_null(row);
  if (a_null || v.is_null) return a_null == v.is_null ? 0 : (a_null ? -1 : 1);
  switch (c.type()) {
    case TypeId::kFloat64: {
      double x = c.double_at(row);
      return x < v.d ? -1 : (x > v.d ? 1 : 0);
    }
    case TypeId::kString: {
      int r = c.string_at(row).compare(v.s);
      return r < 0 ? -1 : (r > 0 ? 1 : 0);
    }
    default: {
      int64_t x = c.int_at(row);
      return x < v.i ? -1 : (x > v.i ? 1 : 0);
    }
  }
}

class TopN : public Operator {
 public:
  explicit TopN(const TopNConfig& c) : c_(c), ids_({}), out_schema_(c.output_schema) {}

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    return Status::ok();
  }

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    if (!in.is_insert_only()) {
      return unsupported("ROW_NUMBER over an updating input is not supported yet");
    }
    if (!key_schema_) {
      std::vector<Field> fields;
      for (int k : c_.partition_columns) fields.push_back(in.schema->field(static_cast<size_t>(k)));
      key_schema_ = make_schema(fields);
    }
    const bool windowed = c_.window_end_column >= 0;
    Scope* cached = nullptr;
    Micros cached_end = 0;
    for (size_t r = 0; r < in.num_rows; ++r) {
      // Windowed: one scope per window end, freed when the window is emitted.
      Micros end = windowed ? in.column(static_cast<size_t>(c_.window_end_column)).int_at(r) : 0;
      if (!cached || cached_end != end) {
        auto it = scopes_.find(end);
        if (it == scopes_.end()) it = scopes_.emplace(end, std::make_unique<Scope>(key_schema_)).first;
        cached = it->second.get();
        cached_end = end;
      }
      Scope& scope = *cached;
      uint32_t p = scope.partitions.find_or_insert(in, c_.partition_columns, r, key_buffer_, ids_);
      if (p >= scope.lists.size()) scope.lists.resize(p + 1);
      Partition& part = scope.lists[p];
      // Position of the row among the entries (after equal keys: arrival breaks ties).
      size_t pos = part.entries.size();
      while (pos > 0 && compare_row(in, r, part.entries[pos - 1]) < 0) --pos;
      if (pos >= static_cast<size_t>(c_.limit)) continue;  // not in the top N: nothing stored
      Entry e;
      e.id = next_id_++;
      for (size_t col = 0; col < c_.visible_columns; ++col) e.visible.push_back(value_at(in.column(col), r));
      for (int oc : c_.order_columns) e.order.push_back(value_at(in.column(static_cast<size_t>(oc)), r));
      part.entries.insert(part.entries.begin() + static_cast<long>(pos), std::move(e));
      if (part.entries.size() > static_cast<size_t>(c_.limit)) part.entries.pop_back();
      if (!windowed && !part.dirty) {
        part.dirty = true;
        dirty_.push_back(p);
      }
    }
    if (windowed) return Status::ok();
    // Continuous mode: emit changed positions, partitions in key order.
    if (scopes_.empty()) return Status::ok();
    Scope& scope = *scopes_.begin()->second;
    sort_partitions(scope, dirty_);
    for (uint32_t p : dirty_) {
      Partition& part = scope.lists[p];
      part.dirty = false;
      for (size_t i = 0; i < part.entries.size(); ++i) {
        if (i < part.emitted.size() && part.emitted[i].id == part.entries[i].id) continue;
        if (i < part.emitted.size()) RETURN_IF_ERROR(emit(part.emitted[i], i, RowKind::kDelete, out));
        RETURN_IF_ERROR(emit(part.entries[i], i, RowKind::kInsert, out));
      }
      part.emitted = part.entries;
    }
    dirty_.clear();
    return flush(out);
  }

  Status on_watermark(Micros wm, Output& out) override {
    if (c_.window_end_column >= 0) {
      // Windows whose end the watermark reached: final top N, partitions in key order.
      while (!scopes_.empty() && scopes_.begin()->first <= wm) {
        Scope& scope = *scopes_.begin()->second;
        std::vector<uint32_t> order(scope.lists.size());
        for (uint32_t p = 0; p < order.size(); ++p) order[p] = p;
        sort_partitions(scope, order);
        for (uint32_t p : order) {
          const Partition& part = scope.lists[p];
          for (size_t i = 0; i < part.entries.size(); ++i) RETURN_IF_ERROR(emit(part.entries[i], i, RowKind::kInsert, out));
        }
        scopes_.erase(scopes_.begin());
      }
      RETURN_IF_ERROR(flush(out));
    }
    return out.emit_watermark(wm);
  }

  Status finish(Output& out) override { return on_watermark(kMaxWatermark, out); }

 private:
  struct Entry {
    uint64_t id = 0;
    std::vector<Value> visible;
    std::vector<Value> order;
  };
  struct Partition {
    std::vector<Entry> entries;  // ranked, at most N
    std::vector<Entry> emitted;  // continuous mode: what the sink holds
    bool dirty = false;
  };
  struct Scope {
    explicit Scope(SchemaPtr key_schema) : partitions(std::move(key_schema)) {}
    GroupTable partitions;
    std::vector<Partition> lists;
  };

  // < 0 when batch row r ranks before entry e.
  int compare_row(const RecordBatch& in, size_t r, const Entry& e) const {
    for (size_t k = 0; k < c_.order_columns.size(); ++k) {
      const Column& col = in.column(static_cast<size_t>(c_.order_columns[k]));
      bool a_null = col.is_null(r), b_null = e.order[k].is_null;
      int cmp;
      if (a_null || b_null) {
        if (a_null == b_null) continue;
        cmp = a_null == c_.nulls_first[k] ? -1 : 1;
        return cmp;
      }
      cmp = compare_value(col, r, e.order[k]);
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

  Status emit(const Entry& e, size_t rank, RowKind kind, Output& out) {
    if (!current_) current_ = make_batch(out_schema_);
    RecordBatch& b = *current_;
    for (size_t col = 0; col < c_.visible_columns; ++col) append_value(b.columns[col], e.visible[col]);
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
  std::map<Micros, std::unique_ptr<Scope>> scopes_;  // by window end (one scope when continuous)
  std::vector<uint32_t> dirty_;
  std::string key_buffer_;
  uint64_t next_id_ = 1;
  MutableBatchPtr current_;
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
