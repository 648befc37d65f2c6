// Grouped aggregation operators.
//
// WindowAggregate (TUMBLE/HOP + GROUP BY): input rows are assigned to their windows and
// aggregated per (window, group key). When the watermark reaches a window's end the window
// fires: one row per group, ordered by key, windows in (end, start) order — so the output
// order depends only on the data, never on batch size or parallelism. With allowed lateness
// L the window's state is kept until watermark >= end + L; a late-but-allowed row updates
// the window and the changed groups are emitted again as +U rows at the end of the batch.
// Rows behind every one of their windows (end + L <= the row's watermark) never reach this
// operator in normal plans (LateFilter routes them to the late-data output upstream); any
// that do are counted as late here.
//
// GroupAggregate (GROUP BY without a window, or a global aggregate): an updating result.
// After each input batch the groups it changed are emitted: +I the first time, +U after.
// A global aggregate (no keys) emits its row at finish() even for an empty input.
//
// Output columns: [window_start, window_end,] key columns..., aggregate results...
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "operators/aggregate_store.h"
#include "operators/window_spec.h"
#include "runtime/operator.h"

namespace sluice {

struct AggregateConfig {
  bool windowed = false;
  WindowSpec window;
  int time_column = -1;           // windowed: the event-time column of the input
  Micros allowed_lateness = 0;
  std::vector<int> key_columns;   // input columns forming the group key
  std::vector<AggregateSpec> aggregates;
  SchemaPtr key_schema;
  SchemaPtr output_schema;
  size_t batch_size = kDefaultBatchRows;
};

class AggregateOperatorSpec : public OperatorSpec {
 public:
  explicit AggregateOperatorSpec(AggregateConfig config) : config_(std::move(config)) {}
  std::string kind() const override {
    if (!config_.windowed) return "group_aggregate";
    return config_.window.kind == WindowSpec::Kind::kSession ? "session_aggregate" : "window_aggregate";
  }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const AggregateConfig& config() const { return config_; }

 private:
  AggregateConfig config_;
};

}  // namespace sluice
