// Regular (unbounded) streaming join of two inputs: INNER, LEFT, RIGHT and FULL OUTER, on
// equality keys (plain `=`, which never matches NULL, or NULL-safe IS NOT DISTINCT FROM) plus
// an optional residual condition over the joined row.
//
// Inputs: logical input 0 is the left side, 1 the right side. Both arrive hash-partitioned
// on their join keys (same key types on both sides, so equal keys meet in one instance at
// any parallelism). Each input is insert-only or a retracting changelog: +I/+U add a row,
// -D/-U remove one row equal to it (an upsert stream is normalized to this form upstream,
// see ChangelogNormalizeOperatorSpec).
//
// Output: [left columns..., right columns...] as a changelog of +I and -D rows, like Flink's
// streaming join: a new row joins every stored row of the other side with the same key that
// satisfies the residual (+I per pair); a removed row retracts those pairs (-D). On an outer
// side a row without partner is emitted padded with NULLs; when its first partner arrives
// the padded row is retracted (-D) before the pair is emitted, and when its last partner is
// retracted the padded row is emitted again (+I). Every -D carries exactly the row it
// retracts.
//
// Watermarks: none are forwarded but the final one (end of input), since an output row can
// pair a new row with one stored long before: windows after a regular join close at the end
// of a bounded input only.
//
// State: every live row of both sides, in a columnar row store per side (one per instance),
// indexed by the encoded join key; for outer sides each row also counts its partners. It
// grows with the number of distinct live rows unless a state TTL drops rows not written for
// that long (JoinConfig::state_ttl; then each row keeps its write time, checkpointed with
// it, in wall-clock time so that ages survive a restart). Checkpoints: one keyed entry
// per (side, join key) whose key group is that of the join key (the exchange's hash), so a
// restored instance receives exactly its keys at any parallelism.
//
// Threads: one instance per task thread; the spec is shared and immutable.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "expr/expr.h"
#include "runtime/operator.h"

namespace sluice {

enum class JoinType { kInner, kLeft, kRight, kFull };
const char* join_type_name(JoinType type);  // "INNER", "LEFT", "RIGHT", "FULL"

struct JoinConfig {
  JoinType type = JoinType::kInner;
  std::vector<int> left_keys;   // columns of the left input
  std::vector<int> right_keys;  // columns of the right input, same types pairwise
  std::vector<bool> null_safe;  // per key pair: IS NOT DISTINCT FROM (NULL matches NULL)
  ExprPtr residual;             // over the output row [left..., right...]; null: none
  SchemaPtr left_schema;
  SchemaPtr right_schema;
  SchemaPtr output_schema;  // left fields then right fields (nullable on outer sides)
  size_t batch_size = kDefaultBatchRows;
  // State TTL (processing time, SET state_ttl): a stored row not written for this long is
  // dropped, as Flink's table.exec.state.ttl: it joins no later row and a later retraction
  // of it finds nothing; pairs already emitted stay. Counted in
  // sluice_state_expired_rows_total. 0: rows live until retracted.
  Micros state_ttl = 0;
};

class JoinOperatorSpec : public OperatorSpec {
 public:
  explicit JoinOperatorSpec(JoinConfig config) : config_(std::move(config)) {}
  std::string kind() const override { return "join"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const JoinConfig& config() const { return config_; }

 private:
  JoinConfig config_;
};

// Turns an upsert changelog (rows keyed by `key_columns`: +I/+U carry the new value of a
// key, -D deletes it; no -U) into a retracting one: +U of a key seen before becomes -U of the
// previous row then +U of the new one, -D carries the previous row. Runs in the stage that
// produced the upserts (same partitioning), so every key's history is in one instance.
// State: the last row of every live key (checkpointed per key, key group of the
// `partition_columns`, the exchange's keys, which are the leading key columns).
class ChangelogNormalizeOperatorSpec : public OperatorSpec {
 public:
  ChangelogNormalizeOperatorSpec(SchemaPtr schema, std::vector<int> key_columns, size_t partition_columns,
                                 size_t batch_size)
      : schema_(std::move(schema)),
        key_columns_(std::move(key_columns)),
        partition_columns_(partition_columns),
        batch_size_(batch_size) {}
  std::string kind() const override { return "changelog_normalize"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }

 private:
  SchemaPtr schema_;
  std::vector<int> key_columns_;
  size_t partition_columns_;
  size_t batch_size_;
};

}  // namespace sluice
