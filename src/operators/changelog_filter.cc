#include "operators/changelog_filter.h"

#include <fmt/format.h>

#include <functional>
#include <queue>

#include "common/hash.h"
#include "common/serde.h"
#include "operators/change_set.h"
#include "operators/group_table.h"
#include "types/batch_serde.h"

namespace sluice {
namespace {

class ChangelogFilter : public Operator {
 public:
  explicit ChangelogFilter(const ChangelogFilterConfig& c) : c_(c) {
    reset_table();
  }

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_ = ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    scratch_.reset();
    const Column& keep = c_.predicate->eval(in, scratch_);
    selection_.clear();
    kinds_.clear();
    for (size_t r = 0; r < in.num_rows; ++r) {
      const RowKind kind = in.row_kind(r);
      if (kind == RowKind::kUpdateBefore) continue;  // the +U or -D that follows decides
      const bool qualifies = kind != RowKind::kDelete && keep.is_valid(r) && keep.int_at(r) != 0;
      uint32_t g = 0;
      if (qualifies) {
        g = table_->find_or_insert(in, c_.key_columns, r, key_buffer_, *ids_);
        if (g >= emitted_.size()) {
          emitted_.resize(g + 1, 0);
          end_.resize(g + 1, kMinWatermark);
        }
        kinds_.push_back(emitted_[g] ? RowKind::kUpdateAfter : RowKind::kInsert);
        if (!emitted_[g]) {
          emitted_[g] = 1;
          ++live_;
          mark(g);
        }
        if (c_.end_column >= 0) {
          const Micros end = in.column(static_cast<size_t>(c_.end_column)).int_at(r);
          if (end != end_[g]) {
            end_[g] = end;
            expiry_.push({end + c_.allowed_lateness, g});
            mark(g);
          }
        }
      } else {
        if (!table_->find(in, c_.key_columns, r, key_buffer_, &g) || !emitted_[g]) continue;
        kinds_.push_back(RowKind::kDelete);
        emitted_[g] = 0;
        --live_;
        mark(g);
      }
      selection_.push_back(static_cast<uint32_t>(r));
    }
    if (selection_.empty()) return Status::ok();
    auto part = make_batch(in.schema);
    part->append_gather(in, selection_.data(), selection_.size());
    part->row_kinds = kinds_;
    return out.emit(std::move(part));
  }

  Status on_watermark(Micros wm, Output& out) override {
    // Windows the aggregation above will never update again: forget their keys (no -D:
    // the last row emitted for them is final).
    while (!expiry_.empty() && expiry_.top().first <= wm) {
      const auto [until, g] = expiry_.top();
      expiry_.pop();
      if (!emitted_[g] || end_[g] + c_.allowed_lateness != until) continue;  // re-emitted with a later end
      emitted_[g] = 0;
      --live_;
      mark(g);
    }
    compact_if_sparse();
    return out.emit_watermark(wm);
  }

  Status snapshot(uint64_t, StateWriter& w) override {
    const bool incremental = w.incremental();
    if (incremental) {
      for (const auto& [kg, key] : removed_) w.remove(kg, key);
    }
    removed_.clear();
    std::string value;
    changed_.for_snapshot(incremental, table_->size(), [&](uint32_t g) {
      state_key(g);
      if (!emitted_[g]) {
        if (incremental) w.remove(key_group(g), key_buffer_);
        return;
      }
      value.clear();
      ByteWriter vw(&value);
      vw.i64(end_[g]);
      w.put(key_group(g), key_buffer_, value);
    });
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (!state) return Status::ok();
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    RecordBatch scratch(c_.key_schema);
    return state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
      ByteReader kr(key);
      for (auto& col : scratch.columns) {
        col.clear();
        RETURN_IF_ERROR(read_column_value(kr, col));
      }
      if (kr.ok() && !kr.at_end()) kr.fail();
      RETURN_IF_ERROR(kr.status("changelog filter key"));
      scratch.num_rows = 1;
      ByteReader vr(value);
      const Micros window_end = vr.i64();
      if (vr.ok() && !vr.at_end()) vr.fail();
      RETURN_IF_ERROR(vr.status("changelog filter state"));
      const uint32_t g = table_->insert_key(scratch, 0, key_buffer_, *ids_);
      if (g >= emitted_.size()) {
        emitted_.resize(g + 1, 0);
        end_.resize(g + 1, kMinWatermark);
      }
      if (!emitted_[g]) ++live_;
      emitted_[g] = 1;
      end_[g] = window_end;
      if (c_.end_column >= 0) expiry_.push({window_end + c_.allowed_lateness, g});
      return Status::ok();
    });
  }

 private:
  void reset_table() {
    ids_ = std::make_unique<AggregateStore>(std::vector<AggregateSpec>{});
    table_ = std::make_unique<GroupTable>(c_.key_schema);
  }

  void mark(uint32_t g) {
    if (track_) changed_.mark(g);
  }

  // The key group of group g: the hash of its partition columns, as the hash exchange
  // computes it for rows with these values (runtime/job.cc).
  int key_group(uint32_t g) const {
    uint64_t hash = 0;
    for (size_t k = 0; k < c_.partition_columns; ++k) hash = hash_combine(hash, table_->keys().columns[k].hash_row(g));
    return key_group_of(hash);
  }

  // The checkpoint key of group g (its key values, write_column_value) into key_buffer_.
  void state_key(uint32_t g) {
    key_buffer_.clear();
    ByteWriter kw(&key_buffer_);
    for (const auto& col : table_->keys().columns) write_column_value(kw, col, g);
  }

  // Keys not emitted need no state; once they are most of the table (windows forgotten,
  // keys that stopped qualifying), rebuild it with the emitted ones only.
  void compact_if_sparse() {
    const size_t dead = table_->size() - live_;
    if (dead < 1024 || dead * 2 < table_->size()) return;
    if (track_) {
      // Entries of changed keys not emitted must still be removed by the next snapshot.
      for (uint32_t g : changed_.ids) {
        if (emitted_[g]) continue;
        state_key(g);
        removed_.emplace_back(key_group(g), key_buffer_);
      }
    }
    std::unique_ptr<GroupTable> old_table = std::move(table_);
    std::unique_ptr<AggregateStore> old_ids = std::move(ids_);
    std::vector<uint8_t> old_emitted = std::move(emitted_);
    std::vector<Micros> old_end = std::move(end_);
    ChangeSet old_changed = std::move(changed_);
    reset_table();
    emitted_.clear();
    end_.clear();
    changed_ = ChangeSet();
    expiry_ = {};
    for (uint32_t g = 0; g < old_table->size(); ++g) {
      if (!old_emitted[g]) continue;
      const uint32_t ng = table_->insert_key(old_table->keys(), g, key_buffer_, *ids_);
      emitted_.push_back(1);
      end_.push_back(old_end[g]);
      if (c_.end_column >= 0) expiry_.push({old_end[g] + c_.allowed_lateness, ng});
      if (track_ && g < old_changed.marked.size() && old_changed.marked[g]) changed_.mark(ng);
    }
  }

  const ChangelogFilterConfig& c_;
  std::unique_ptr<AggregateStore> ids_;  // no aggregates: GroupTable only needs ids for its keys
  std::unique_ptr<GroupTable> table_;
  std::vector<uint8_t> emitted_;  // per key: its last passed row is live downstream
  std::vector<Micros> end_;       // per key: window end of its last passed row (windowed inputs)
  size_t live_ = 0;               // keys emitted
  using Expiry = std::pair<Micros, uint32_t>;  // (window end + lateness, key)
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiry_;
  bool track_ = false;
  ChangeSet changed_;
  std::vector<std::pair<int, std::string>> removed_;  // (key group, key) to remove at the next snapshot
  EvalScratch scratch_;
  std::vector<uint32_t> selection_;
  std::vector<RowKind> kinds_;
  std::string key_buffer_;
};

}  // namespace

std::string ChangelogFilterOperatorSpec::describe() const {
  std::string keys;
  for (int k : config_.key_columns) keys += fmt::format("{}${}", keys.empty() ? "" : ", ", k);
  return fmt::format("where {} over updates keyed by [{}] (retracts keys that stop qualifying)",
                     config_.predicate->to_string(), keys);
}

std::unique_ptr<Operator> ChangelogFilterOperatorSpec::create() const {
  return std::make_unique<ChangelogFilter>(config_);
}

}  // namespace sluice
