// MatchRecognizeOperator: MATCH_RECOGNIZE (ONE ROW PER MATCH) over a keyed stream.
//
// Placement: its own stage with `parallelism` instances fed by a hash exchange on the
// PARTITION BY columns (no PARTITION BY: one instance), so each partition lives in exactly
// one instance. Late rows (event time below the row's watermark) are caught on the
// source side by the shared LateFilter (a one-microsecond window per row) and go to the
// late-data output like a window's; a row that still arrives behind the instance's
// watermark (an input without a late filter) is dropped and counted as late.
//
// Per instance: rows are buffered (one columnar batch, with their partition and arrival
// number) until the watermark passes their event time. On watermark W the rows with time
// < W are sorted by (partition, event time, arrival), the DEFINE conditions and the
// measures' arguments are evaluated over them as one batch (vectorized), and each
// partition's rows run through the matcher (cep/matcher.h) in order; then attempts whose
// WITHIN bound ended by W are decided, the match rows go out, and W is forwarded. So the
// order is restored within the watermark delay and results do not depend on arrival
// interleaving, batch size or parallelism (rows with equal event time keep arrival order).
//
// Output: the partition columns, match_number, classifier (variable of the last row),
// match_start and match_end (event times of the first and last rows), one column per
// measure aggregate, and, with `emit_time`, a hidden __emit_time (the matcher's emit time:
// above every watermark forwarded before the row, at or below the next) for the sink's
// ordered release.
//
// Checkpoints: one keyed entry per partition holding state (key group of the partition
// columns, as the exchange computes it): the key's values, the matcher's state (attempts
// and accumulators, no rows) and the partition's buffered rows; the instance state is the
// watermark (the smallest over old instances is restored). Incremental snapshots write
// the partitions changed since the last one.
//
// Threads: one instance per task thread; the spec is shared read-only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cep/matcher.h"
#include "expr/expr.h"
#include "runtime/operator.h"

namespace sluice {

struct MatchRecognizeConfig {
  cep::MatcherConfig matcher;
  SchemaPtr input_schema;
  std::vector<int> partition_columns;  // input columns
  int time_column = -1;                // the input's event-time column
  std::vector<ExprPtr> defines;        // per pattern variable (BOOLEAN); null: every row
  std::vector<ExprPtr> arguments;      // the measure aggregates' arguments, over the input
  SchemaPtr output_schema;             // match_output_schema(...)
  bool emit_time = false;
  size_t batch_size = kDefaultBatchRows;
};

// [partition columns..., match_number, classifier, match_start, match_end, aggregates
// "__agg<i>"..., (__emit_time)].
SchemaPtr match_output_schema(const Schema& input, const std::vector<int>& partition_columns,
                              const std::vector<cep::MeasureAggregate>& aggregates, bool emit_time);
inline constexpr size_t kMatchFixedColumns = 4;  // match_number, classifier, match_start, match_end

class MatchRecognizeOperatorSpec : public OperatorSpec {
 public:
  explicit MatchRecognizeOperatorSpec(MatchRecognizeConfig config) : config_(std::move(config)) {}
  std::string kind() const override { return "match_recognize"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const MatchRecognizeConfig& config() const { return config_; }

 private:
  MatchRecognizeConfig config_;
};

}  // namespace sluice
