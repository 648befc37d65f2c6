// ChangelogFilter: a WHERE / HAVING over an updating result (a GROUP BY without window, a
// window aggregation with allowed lateness, session windows): the rows are upserts by a key
// (+I, +U, -D; -U is not used), so a predicate cannot be applied row by row. A key whose
// value stops qualifying must be retracted, and a key that qualifies for the first time
// (or again) must be inserted. The filter remembers, per key, whether the row it last
// passed is still "emitted" downstream:
//
//   input +I/+U, qualifies      -> +I (not emitted yet) or +U (emitted); now emitted
//   input +I/+U, does not       -> -D (emitted) or nothing; now not emitted
//   input -D                    -> -D (emitted) or nothing; now not emitted
//   input -U                    -> nothing (the +U or -D that follows decides)
//
// A -D carries the row that caused it (its key columns identify what to delete: upsert
// sinks delete by key). The output is again an upsert stream by the same key.
//
// Keys: `key_columns` of the input identify a row; the first `partition_columns` of them are
// the columns the hash exchange in front of the aggregation routes by, so the filter runs
// in the instance that owns the key and a checkpoint entry's key group is the key's (the
// instance that owns it after a restore at any parallelism).
//
// Windowed inputs: `end_column` (the row's window_end, -1 if not available) and
// `allowed_lateness` let the filter forget a key once the watermark passes end + lateness:
// the aggregation above never updates that window again, so the state follows the open
// windows, not the history.
//
// Checkpoints: one keyed entry per emitted key (key = its values, write_column_value;
// value = i64 window end); keys not emitted have no state. Called on the task thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "expr/expr.h"
#include "runtime/operator.h"

namespace sluice {

struct ChangelogFilterConfig {
  ExprPtr predicate;
  std::vector<int> key_columns;  // input columns; the first partition_columns are the exchange's keys
  size_t partition_columns = 0;
  int end_column = -1;           // input column holding window_end (windowed inputs), else -1
  Micros allowed_lateness = 0;
  SchemaPtr key_schema;          // the types of the key columns, in key order
};

class ChangelogFilterOperatorSpec : public OperatorSpec {
 public:
  explicit ChangelogFilterOperatorSpec(ChangelogFilterConfig config) : config_(std::move(config)) {}
  std::string kind() const override { return "changelog_filter"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const ChangelogFilterConfig& config() const { return config_; }

 private:
  ChangelogFilterConfig config_;
};

}  // namespace sluice
