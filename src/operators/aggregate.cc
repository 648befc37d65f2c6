#include "operators/aggregate.h"

#include <map>

#include <fmt/format.h>

#include "operators/group_table.h"

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

class WindowAggregate : public Operator {
 public:
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
        uint32_t group = w->table.find_or_insert(in, c_.key_columns, r, key_buffer_, store_);
        rows_.push_back(static_cast<uint32_t>(r));
        slots_.push_back(w->table.slot(group));
        if (w->fired) w->mark_dirty(group);
        accepted = true;
      });
      if (!accepted) ++late;
    }
    if (late) ctx_.metrics->late.fetch_add(late, std::memory_order_relaxed);
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
      for (uint32_t g : w->dirty) RETURN_IF_ERROR(emit_group(key.second, key.first, *w, g, RowKind::kUpdateAfter, out));
      w->clear_dirty();
    }
    return out_.flush(out);
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
      }
      if (c_.allowed_lateness == 0 || end + c_.allowed_lateness <= wm || wm == kMaxWatermark) {
        w.table.release_all(store_);
        it = windows_.erase(it);
      } else {
        ++it;
      }
    }
    RETURN_IF_ERROR(out_.flush(out));
    return out.emit_watermark(wm);
  }

  Status finish(Output& out) override { return on_watermark(kMaxWatermark, out); }

 private:
  struct Window {
    explicit Window(SchemaPtr key_schema) : table(std::move(key_schema)) {}
    GroupTable table;
    bool fired = false;
    std::vector<uint32_t> dirty;
    std::vector<uint8_t> is_dirty;
    void mark_dirty(uint32_t g) {
      if (is_dirty.size() <= g) is_dirty.resize(g + 1, 0);
      if (!is_dirty[g]) {
        is_dirty[g] = 1;
        dirty.push_back(g);
      }
    }
    void clear_dirty() {
      for (uint32_t g : dirty) is_dirty[g] = 0;
      dirty.clear();
    }
  };

  Status emit_group(Micros start, Micros end, const Window& w, uint32_t g, RowKind kind, Output& out) {
    RecordBatch& b = out_.batch();
    size_t col = 0;
    b.columns[col++].append_int(start);
    b.columns[col++].append_int(end);
    for (size_t k = 0; k < c_.key_columns.size(); ++k) b.columns[col++].append_from(w.table.keys().columns[k], g);
    for (size_t a = 0; a < c_.aggregates.size(); ++a) store_.append_result(a, w.table.slot(g), b.columns[col++]);
    return out_.row_done(kind, out);
  }

  const AggregateConfig& c_;
  AggregateStore store_;
  OutputBuilder out_;
  std::map<std::pair<Micros, Micros>, std::unique_ptr<Window>> windows_;  // (end, start)
  Micros watermark_ = kMinWatermark;
  std::string key_buffer_;
  std::vector<uint32_t> rows_;
  std::vector<uint32_t> slots_;
};

class GroupAggregate : public Operator {
 public:
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
  if (config_.windowed) return std::make_unique<WindowAggregate>(config_);
  return std::make_unique<GroupAggregate>(config_);
}

}  // namespace sluice
