#include "operators/stateless.h"

#include <algorithm>

#include <fmt/format.h>

#include "formats/format.h"

namespace sluice {
namespace {

class CalcOperator : public Operator {
 public:
  explicit CalcOperator(const CalcOperatorSpec& spec) : spec_(spec) {}

  Status process(int, const BatchPtr& batch, Output& out) override {
    scratch_.reset();
    const RecordBatch& in = *batch;
    const RecordBatch* source = &in;
    MutableBatchPtr filtered;
    if (spec_.filter()) {
      const Column& keep = spec_.filter()->eval(in, scratch_);
      selection_.clear();
      for (size_t r = 0; r < in.num_rows; ++r) {
        if (keep.is_valid(r) && keep.int_at(r)) selection_.push_back(static_cast<uint32_t>(r));
      }
      if (selection_.empty()) return Status::ok();
      if (selection_.size() != in.num_rows) {
        if (spec_.projections().empty()) {
          auto part = make_batch(in.schema);
          part->append_gather(in, selection_.data(), selection_.size());
          return out.emit(std::move(part));
        }
        filtered = make_batch(in.schema);
        filtered->append_gather(in, selection_.data(), selection_.size());
        source = filtered.get();
        scratch_.reset();
      } else if (spec_.projections().empty()) {
        return out.emit(batch);
      }
    }
    auto result = make_batch(spec_.output_schema());
    for (size_t i = 0; i < spec_.projections().size(); ++i) {
      const Column& c = spec_.projections()[i]->eval(*source, scratch_);
      result->columns[i].append_all(c);
    }
    result->num_rows = source->num_rows;
    result->copy_side_vectors(*source);
    return out.emit(std::move(result));
  }

 private:
  const CalcOperatorSpec& spec_;
  EvalScratch scratch_;
  std::vector<uint32_t> selection_;
};

class WindowAssignOperator : public Operator {
 public:
  explicit WindowAssignOperator(const WindowAssignOperatorSpec& spec) : spec_(spec) {}

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    const Column& ts = in.column(static_cast<size_t>(spec_.time_column()));
    rows_.clear();
    starts_.clear();
    for (size_t r = 0; r < in.num_rows; ++r) {
      if (ts.is_null(r)) continue;  // no window for a NULL time (as in Flink/RisingWave)
      spec_.window().for_each_window(ts.int_at(r), [&](Micros start) {
        rows_.push_back(static_cast<uint32_t>(r));
        starts_.push_back(start);
      });
    }
    // for_each_window yields latest first; emit each row's windows in ascending order.
    for (size_t i = 0; i < rows_.size();) {
      size_t j = i;
      while (j < rows_.size() && rows_[j] == rows_[i]) ++j;
      std::reverse(starts_.begin() + static_cast<long>(i), starts_.begin() + static_cast<long>(j));
      i = j;
    }
    auto result = make_batch(spec_.output_schema());
    const size_t ncols = in.columns.size();
    for (size_t c = 0; c < ncols; ++c) result->columns[c].append_gather(in.columns[c], rows_.data(), rows_.size());
    for (Micros s : starts_) {
      result->columns[ncols].append_int(s);
      result->columns[ncols + 1].append_int(s + spec_.window().size);
    }
    result->num_rows = rows_.size();
    if (!in.row_watermarks.empty()) {
      for (uint32_t r : rows_) result->row_watermarks.push_back(in.row_watermarks[r]);
    }
    if (!in.row_kinds.empty()) {
      for (uint32_t r : rows_) result->row_kinds.push_back(in.row_kinds[r]);
    }
    if (in.origin) {
      result->origin = in.origin;
      for (uint32_t r : rows_) result->row_records.push_back(in.row_records[r]);
    }
    return out.emit(std::move(result));
  }

 private:
  const WindowAssignOperatorSpec& spec_;
  std::vector<uint32_t> rows_;
  std::vector<Micros> starts_;
};

class LateFilterOperator : public Operator {
 public:
  explicit LateFilterOperator(const LateFilterOperatorSpec& spec) : spec_(spec) {}

  // Decides per row with the row's own watermark, marks late rows in their batch's
  // RecordOrigin (the source writes one entry per record, see formats/late_output.h) and
  // passes the others on. No I/O here.
  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    if (in.row_watermarks.empty()) return out.emit(batch);
    const Column& ts = in.column(static_cast<size_t>(spec_.time_column()));
    keep_.clear();
    late_.clear();
    for (size_t r = 0; r < in.num_rows; ++r) {
      bool late = !ts.is_null(r) &&
                  spec_.window().max_end(ts.int_at(r)) + spec_.allowed_lateness() <= in.row_watermarks[r];
      (late ? late_ : keep_).push_back(static_cast<uint32_t>(r));
    }
    if (late_.empty()) return out.emit(batch);
    ctx_.metrics->add_late(late_.size());
    if (!in.origin || in.row_records.size() != in.num_rows) {
      return internal_error("late filter {}: late rows without their input records", spec_.id);
    }
    for (uint32_t r : late_) {
      const Micros t = ts.int_at(r);
      in.origin->mark(spec_.slot(), LateMark{in.row_records[r], t, in.row_watermarks[r], spec_.window().max_end(t)});
    }
    if (keep_.empty()) return Status::ok();
    auto part = make_batch(in.schema);
    part->append_gather(in, keep_.data(), keep_.size());
    return out.emit(std::move(part));
  }

 private:
  const LateFilterOperatorSpec& spec_;
  std::vector<uint32_t> keep_, late_;
};

}  // namespace

std::string CalcOperatorSpec::describe() const {
  std::string s;
  if (filter_) s = "where " + filter_->to_string();
  if (!projections_.empty()) {
    if (!s.empty()) s += "; ";
    s += "select ";
    for (size_t i = 0; i < projections_.size(); ++i) {
      if (i) s += ", ";
      s += projections_[i]->to_string();
      if (i < output_schema_->size()) s += " AS " + output_schema_->field(i).name;
    }
  }
  return s;
}
std::unique_ptr<Operator> CalcOperatorSpec::create() const { return std::make_unique<CalcOperator>(*this); }

std::string WindowAssignOperatorSpec::describe() const {
  return fmt::format("{} on ${}", window_.describe(), time_column_);
}
std::unique_ptr<Operator> WindowAssignOperatorSpec::create() const {
  return std::make_unique<WindowAssignOperator>(*this);
}

std::string LateFilterOperatorSpec::describe() const {
  if (is_row_time()) {
    return fmt::format("late rows by row time on ${} -> {}", time_column_, late_output_->describe());
  }
  return fmt::format("late rows of {} on ${} (allowed lateness {}) -> {}", window_.describe(), time_column_,
                     format_duration(allowed_lateness_), late_output_->describe());
}
std::unique_ptr<Operator> LateFilterOperatorSpec::create() const { return std::make_unique<LateFilterOperator>(*this); }

}  // namespace sluice
