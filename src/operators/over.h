// OVER aggregates on an event-time stream ("velocity features"), as Flink's OverAggregate:
//
//   SELECT user_id, amount,
//          COUNT(*) OVER (PARTITION BY user_id ORDER BY ts
//                         RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW) ...
//
// Every input row is emitted once, with the aggregates of its frame appended: output =
// [input columns..., aggregate results...]. The input is append-only and carries its event
// time (rowtime) in `time_column`; the output keeps it, so windows can follow.
//
// Frames (OverFrame): RANGE BETWEEN <interval> PRECEDING AND CURRENT ROW (rows of the
// partition with ts in [t - interval, t]), RANGE UNBOUNDED PRECEDING (ts <= t), ROWS
// BETWEEN n PRECEDING AND CURRENT ROW (the row and the n rows before it in (ts, arrival)
// order), ROWS UNBOUNDED PRECEDING. In RANGE frames rows with equal timestamps are peers
// and see each other, as in SQL and Flink; in ROWS frames ties are ordered by arrival.
// Functions: COUNT(*), COUNT(x), SUM, AVG, MIN, MAX and COUNT/SUM/AVG(DISTINCT x), each
// with an optional FILTER; results typed as for GROUP BY (aggregate_result_type).
//
// Emission: rows wait until the watermark passes their event time (watermark W means no
// row with ts < W follows), then are processed and emitted in (ts, arrival) order, before
// the watermark is forwarded. So the result does not depend on batch boundaries, thread
// timing or parallelism. Rows behind the watermark are judged late on the source side by
// the shared LateFilter (deadline ts + 1 µs, the row-time rule) and go to the late-data
// output; any that reach this operator anyway are counted as late and not aggregated.
//
// State, per partition (the PARTITION BY key; rows arrive hash-partitioned on it): the rows
// waiting for the watermark (kept as whole rows in shared columnar chunks), and what the
// frame needs: for bounded frames the frame's rows as (ts, one word per aggregate: the
// argument value, a double's bits or an interned string's id) with retractable
// accumulators (counts, 128-bit integer sums, double sums with their NaN/inf counts,
// monotonic deques for MIN/MAX, value counts for DISTINCT); for unbounded frames only the
// accumulators. RANGE frames drop rows older than the interval behind the watermark (a
// cleanup timer per partition), and a partition with nothing pending and an empty frame
// is freed; ROWS frames keep the last n rows per partition. Every retraction and addition
// happens in the same order whatever the watermark cadence, so double sums are
// reproducible. Checkpoints: one keyed entry per partition (key group of its key, the
// exchange's hash) with its frame, accumulators and pending rows; restores and rescales
// like other keyed operators.
//
// Threads: one instance per task thread; the spec is shared and immutable. process() only
// buffers; on_watermark() does the work, batch at a time, allocating only when state grows.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "operators/aggregate_store.h"
#include "runtime/operator.h"

namespace sluice {

struct OverFrame {
  enum class Unit { kRange, kRows };
  Unit unit = Unit::kRange;
  bool unbounded = true;  // UNBOUNDED PRECEDING
  Micros range = 0;       // RANGE <interval> PRECEDING, >= 0
  int64_t rows = 0;       // ROWS <n> PRECEDING, >= 0
  bool operator==(const OverFrame& o) const {
    return unit == o.unit && unbounded == o.unbounded && range == o.range && rows == o.rows;
  }
  // "RANGE BETWEEN INTERVAL '5 minutes' PRECEDING AND CURRENT ROW", "ROWS UNBOUNDED PRECEDING".
  std::string describe() const;
};

// Largest ROWS n PRECEDING (each partition keeps n rows): beyond it a frame is a mistake.
inline constexpr int64_t kMaxOverRows = 1'000'000;
// At most this many aggregates over one window (one null bit each in a 64-bit mask).
inline constexpr size_t kMaxOverAggregates = 64;

// Whether an aggregate can be computed over an OVER frame; when not, *why (if given) names
// what is supported.
bool over_aggregate_supported(const AggregateSpec& spec, std::string* why = nullptr);

struct OverConfig {
  std::vector<int> partition_columns;  // input columns; empty: one partition (parallelism 1)
  int time_column = -1;                // the rowtime (TIMESTAMP) input column
  OverFrame frame;
  std::vector<AggregateSpec> aggregates;  // inputs and filters are input columns
  SchemaPtr input_schema;
  SchemaPtr output_schema;  // input fields, then one per aggregate
  size_t batch_size = kDefaultBatchRows;
};

class OverOperatorSpec : public OperatorSpec {
 public:
  explicit OverOperatorSpec(OverConfig config) : config_(std::move(config)) {}
  std::string kind() const override { return "over_aggregate"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const OverConfig& config() const { return config_; }

 private:
  OverConfig config_;
};

}  // namespace sluice
