// Time-bounded joins of two append-only streams with event time: the interval join and the
// window join (Flink's IntervalJoin and WindowJoin). Both keep each row only as long as a
// partner may still arrive, emit insert-only rows, and forward a watermark, so they can feed
// windows and further time-bounded joins. The planner (plan/time_join_planning.h) picks them
// for a join whose condition bounds the two event times, or equates the window bounds of
// two identically windowed inputs; every other join is the regular JoinOperatorSpec.
//
// Inputs: logical input 0 is the left side, 1 the right side, each hash-partitioned on its
// join keys (as for the regular join), insert-only. Rows behind the watermark on arrival
// (more than the allowed lateness) are taken out by the source-side late filter before the
// exchange, so they reach the late-data output, never this operator; a row that still comes
// too late (no late filter above it) is handled as Flink does (interval join: joined with
// what is stored, padded at once if outer) or counted late (window join: its window is gone).
//
// Interval join: pairs with equal keys, `lower <= right.time - left.time <= upper` (either
// bound may be open) and the residual (the whole non-key condition, time bounds included).
// A new row joins the stored rows of the other side at once (+I per pair) and is stored
// until the operator's watermark W (minimum of both inputs) passes the last time a partner
// may have: left rows until W > time + upper + lateness, right rows until
// W > time - lower + lateness. An outer row that found no partner by then is emitted padded
// with NULLs when it leaves the state (never emitted then retracted). With an open bound,
// the rows of one side are kept until the end of the input.
//
// Window join: both inputs are windowed by the same TUMBLE or HOP (a window table function
// or a windowed aggregation), and window_start and window_end are among the join keys. Rows
// are stored per window; when W reaches window_end + lateness the window's rows are joined
// (pairs, then NULL-padded rows of outer sides without partner) and freed.
//
// Watermark out: both time columns of every later output row are at or after
// W - delay, with delay = max(upper, -lower, 0) + lateness (interval join) or window size +
// lateness (window join: the window bounds and the rows' times), so forwarding W - delay
// makes no output row late downstream. With an open bound no finite delay exists and only
// the end of the input is forwarded; the planner also turns forwarding off
// (stop_watermarks()) when an operator downstream windows by a column that is not covered.
//
// State and checkpoints: TimedRowStore per side (rows with partner counter and expiry, one
// keyed entry per join key and side, key group of the join key), restored at any
// parallelism; state_entries() counts the stored rows.
//
// Threads: one instance per task thread; the spec is shared and immutable once planned.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "expr/expr.h"
#include "operators/join.h"
#include "operators/window_spec.h"
#include "runtime/operator.h"

namespace sluice {

struct TimeJoinConfig {
  JoinType type = JoinType::kInner;
  std::vector<int> left_keys;   // columns of the left input
  std::vector<int> right_keys;  // columns of the right input, same types pairwise
  std::vector<bool> null_safe;  // per key pair: IS NOT DISTINCT FROM
  ExprPtr residual;             // over the output row [left..., right...]; null: none
  SchemaPtr left_schema;
  SchemaPtr right_schema;
  SchemaPtr output_schema;  // left fields then right fields (all nullable)
  size_t batch_size = kDefaultBatchRows;
  Micros allowed_lateness = 0;  // of the inputs' sources: rows are kept (and outer rows wait) this much longer
  // Interval join: event-time columns of each input and the bounds of right - left
  // (kMinWatermark / kMaxWatermark: open).
  int left_time = -1;
  int right_time = -1;
  Micros lower = kMinWatermark;
  Micros upper = kMaxWatermark;
  // Window join: the window of both inputs and each input's window_end column.
  WindowSpec window;
  int left_window_end = -1;
  int right_window_end = -1;
};

class TimeJoinOperatorSpec : public OperatorSpec {
 public:
  enum class Kind { kInterval, kWindow };
  TimeJoinOperatorSpec(Kind kind, TimeJoinConfig config) : kind_(kind), config_(std::move(config)) {}
  std::string kind() const override { return kind_ == Kind::kInterval ? "interval_join" : "window_join"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const TimeJoinConfig& config() const { return config_; }
  Kind join_kind() const { return kind_; }

  // How far the forwarded watermark trails the inputs' (see the top comment); kMaxWatermark:
  // no finite delay (an open bound), only the end of the input is forwarded.
  Micros output_delay() const;
  bool forwards_watermarks() const { return forward_watermarks_ && output_delay() != kMaxWatermark; }
  // Planning only (before the job runs): forward only the end of the input.
  void stop_watermarks() { forward_watermarks_ = false; }

 private:
  Kind kind_;
  TimeJoinConfig config_;
  bool forward_watermarks_ = true;
};

}  // namespace sluice
