// Stateless, per-batch operators:
//  - CalcOperator: WHERE filter and/or SELECT projection (expressions evaluated a batch at
//    a time; the filter result becomes a selection vector, then columns are gathered).
//  - WindowAssignOperator: the TUMBLE/HOP table functions used without aggregation: appends
//    window_start and window_end to each row (HOP emits one row per window).
//  - LateFilterOperator: placed on the source side in front of a windowed operator; drops
//    rows that are behind all of their windows (end + allowed_lateness <= the row's
//    watermark; for row-time operators such as OVER aggregates, ts < the row's watermark),
//    counted, and marks them in their batch's RecordOrigin so the source
//    writes each late input record once to the late-data output, naming every query that
//    found it late (formats/late_output.h); lets the others through.
// Each keeps its scratch state per instance; the spec (expressions) is shared.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "expr/expr.h"
#include "formats/late_output.h"
#include "operators/window_spec.h"
#include "runtime/operator.h"

namespace sluice {

class CalcOperatorSpec : public OperatorSpec {
 public:
  // filter may be null; projections empty = pass columns through unchanged.
  CalcOperatorSpec(ExprPtr filter, std::vector<ExprPtr> projections, SchemaPtr output_schema)
      : filter_(std::move(filter)), projections_(std::move(projections)), output_schema_(std::move(output_schema)) {}
  std::string kind() const override {
    return filter_ && !projections_.empty() ? "filter_project" : (filter_ ? "filter" : "project");
  }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  const ExprPtr& filter() const { return filter_; }
  const std::vector<ExprPtr>& projections() const { return projections_; }
  const SchemaPtr& output_schema() const { return output_schema_; }

 private:
  ExprPtr filter_;
  std::vector<ExprPtr> projections_;
  SchemaPtr output_schema_;
};

class WindowAssignOperatorSpec : public OperatorSpec {
 public:
  WindowAssignOperatorSpec(WindowSpec window, int time_column, SchemaPtr output_schema)
      : window_(window), time_column_(time_column), output_schema_(std::move(output_schema)) {}
  std::string kind() const override { return "window_assign"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  const WindowSpec& window() const { return window_; }
  int time_column() const { return time_column_; }
  const SchemaPtr& output_schema() const { return output_schema_; }

 private:
  WindowSpec window_;
  int time_column_;
  SchemaPtr output_schema_;
};

class LateFilterOperatorSpec : public OperatorSpec {
 public:
  // `slot`: this filter's slot in `late_output` (LateOutput::add_query).
  LateFilterOperatorSpec(WindowSpec window, int time_column, Micros allowed_lateness,
                         std::shared_ptr<LateOutput> late_output, int slot)
      : window_(window),
        time_column_(time_column),
        allowed_lateness_(allowed_lateness),
        late_output_(std::move(late_output)),
        slot_(slot) {}
  std::string kind() const override { return "late_filter"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;

  // The window whose end is the deadline of a row needed until the watermark passes its
  // own event time (OVER aggregates): max_end(ts) = ts + 1 µs, so a row is late when
  // ts < its watermark.
  static WindowSpec row_time() { return WindowSpec{WindowSpec::Kind::kTumble, 1, 1, 0}; }
  bool is_row_time() const { return window_.kind == WindowSpec::Kind::kTumble && window_.size == 1; }

  const WindowSpec& window() const { return window_; }
  int time_column() const { return time_column_; }
  Micros allowed_lateness() const { return allowed_lateness_; }
  const std::string& source_table() const { return late_output_->source_table(); }
  int slot() const { return slot_; }

 private:
  WindowSpec window_;
  int time_column_;
  Micros allowed_lateness_;
  std::shared_ptr<LateOutput> late_output_;
  int slot_;
};

}  // namespace sluice
