// Logical plan: what a job computes, independent of threads and parallelism.
//
// The SQL binder (and later the C++ builder) produces one Pipeline per INSERT: a tree of
// LogicalNodes ending in a sink table. Nodes carry their output schema and which output
// column, if any, is the event-time attribute (rowtime). The physical planner turns
// pipelines into stages of chained operators (src/plan/physical_planner.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/time_util.h"
#include "expr/expr.h"
#include "operators/aggregate_store.h"
#include "operators/join.h"
#include "operators/over.h"
#include "operators/window_spec.h"
#include "scoring/scoring_operator.h"
#include "types/schema.h"

namespace sluice {

namespace api {
class KeyedProcessFunction;  // include/sluice/process_function.h
}  // namespace api
struct MatchRecognizeConfig;  // cep/match_operator.h

// A CREATE TABLE: a source or a sink, depending on how queries use it.
struct TableDef {
  std::string name;
  SchemaPtr schema;               // null for a sink whose columns are inferred
  std::map<std::string, std::string> options;  // WITH (...), keys lower-case
  std::vector<std::string> primary_key;        // from a PRIMARY KEY constraint
  bool has_primary_key_constraint = false;
  int location = -1;              // byte offset of the statement, for errors
  // Positions for planning errors ("job.sql:3:14"); empty when not defined in SQL.
  std::string where;                                 // the table name in its CREATE TABLE
  std::map<std::string, std::string> option_where;  // option name -> the option
};

// A processing-time lookup join's table access (lookup(table, refresh => ..., cache => ...),
// docs/sql.md "Lookup joins").
struct LookupJoinOptions {
  Micros refresh = 0;          // 'all' cache: the whole table is reloaded this often (0: loaded once)
  bool partial = false;        // cache => 'partial': rows fetched per key, kept in a cache
  Micros cache_ttl = 0;        // partial: a cached key (hit or miss) is fetched again after this long
  size_t cache_max_rows = 0;   // partial: most keys kept (least recently used dropped first)
};

struct LogicalNode;
using LogicalNodePtr = std::shared_ptr<LogicalNode>;

struct LogicalNode {
  enum class Kind {
    kSource,
    kCalc,
    kWindowAssign,
    kAggregate,
    kUnion,
    kTopN,
    kProcess,
    kJoin,
    kTemporalJoin,
    kOver,
    kMatchRecognize,
    kScore
  };
  Kind kind = Kind::kSource;
  SchemaPtr schema;
  int rowtime = -1;  // output column holding the event time, -1 if none
  std::vector<LogicalNodePtr> inputs;

  // kSource
  std::shared_ptr<const TableDef> table;
  // kCalc
  ExprPtr filter;                    // may be null
  std::vector<ExprPtr> projections;  // empty = pass through
  // kWindowAssign / windowed kAggregate
  WindowSpec window;
  int time_column = -1;  // in the input
  // kAggregate: input columns [keys..., aggregate args...] (a pre-projection Calc below it)
  bool windowed = false;
  std::vector<int> key_columns;
  std::vector<AggregateSpec> aggregates;
  // kProcess (C++ API): key_columns are input columns; the function is a prototype that
  // each parallel instance clones. emit_time: append the hidden __emit_time column (set by
  // the planner when the sink orders rows by it).
  std::shared_ptr<const api::KeyedProcessFunction> process_function;
  bool emit_time = false;
  // kTopN: input columns [visible..., partition keys..., order keys..., (window end)]
  size_t visible_columns = 0;
  std::vector<int> partition_columns;
  std::vector<int> order_columns;
  std::vector<bool> descending;
  std::vector<bool> nulls_first;
  int64_t limit = 0;
  int window_end_column = -1;  // set when ranking within windows of an insert-only aggregation
  // kJoin: inputs {left, right}; output columns are the left input's then the right's.
  // Rows join where left_keys[i] = right_keys[i] (IS NOT DISTINCT FROM where null_safe[i])
  // and join_condition (over the output row; may be null) holds.
  JoinType join_type = JoinType::kInner;
  std::vector<int> left_keys;
  std::vector<int> right_keys;
  std::vector<bool> null_safe;
  ExprPtr join_condition;
  // kTemporalJoin (plan/temporal_join_planning.h): a kJoin (INNER or LEFT) of a stream with a
  // table's versions. Event time (versioned(table, ts)): inputs {stream, versioned table},
  // time_column the stream's event-time column, inputs[1]->rowtime each version's start.
  // Processing time (lookup(table, ...)): inputs {stream}, the table read by the operator.
  std::shared_ptr<const TableDef> lookup_table;
  LookupJoinOptions lookup;
  // kOver (plan/over_shape.h): input columns partition_columns, time_column (the input's
  // rowtime) and the aggregates' inputs and filters; output [input columns...,
  // aggregates...], rowtime kept.
  OverFrame over_frame;
  // kMatchRecognize: the pattern, conditions and measure aggregates over the input
  // (key_columns = its PARTITION BY columns); the schema is its output_schema. emit_time:
  // the planner appends the hidden __emit_time column (as for kProcess).
  std::shared_ptr<const MatchRecognizeConfig> match;
  // kScore (score(...) in a SELECT list, docs/scoring.md): the input's columns, then the
  // response (TEXT), ingestion time and decision time (TIMESTAMP) of each row's call
  // (scoring_output_schema). scoring_body null: the first scoring_row_columns columns as a
  // JSON object.
  std::shared_ptr<const ScoringOptions> scoring;
  ExprPtr scoring_body;
  size_t scoring_row_columns = 0;
};

struct Pipeline {
  std::string sink_table;
  std::shared_ptr<const TableDef> sink;
  SchemaPtr sink_schema;  // declared or inferred
  LogicalNodePtr query;   // produces sink_schema (casts applied)
  int location = -1;
};

// Shortest checkpoint interval accepted (besides 0: only the final checkpoint). Each
// checkpoint snapshots every operator and fsyncs its files; more often than this would
// spend the job's time checkpointing.
inline constexpr Micros kMinCheckpointInterval = 10 * kMicrosPerMilli;

struct JobSettings {
  int parallelism = 1;
  size_t batch_size = 4096;
  int decode_threads = 0;  // 0: follow parallelism (JobOptions::decode_threads)
  Micros allowed_lateness = 0;  // default for sources that do not set allowed_lateness
  // Checkpoints (command-line options override): interval 0 = only the final checkpoint.
  std::string checkpoint_dir;
  Micros checkpoint_interval = -1;  // -1: not set
  int checkpoints_retained = 0;     // 0: not set
  std::string state_backend;        // "" not set; "memory" or "rocksdb"
  // Rows of a regular join's state not written for this long (processing time) are
  // dropped, as Flink's table.exec.state.ttl. 0: kept until retracted.
  Micros state_ttl = 0;
  std::map<std::string, std::string> values;  // every SET name = value
};

// Applies `SET name = value` (name lower case) to `settings`: the one place every front end
// (SQL SET, the C++ API's Pipeline::set) validates and stores a job setting.
Status apply_setting(JobSettings& settings, const std::string& name, const std::string& value);

// Calc(exprs) over `input`, producing `schema`. When `input` is itself a projecting Calc the
// two are merged (the expressions' column references are replaced by the input's
// expressions), so sink coercions and union casts add no extra operator. Only column
// references, casts and literals are substituted, which is all those coercions contain.
LogicalNodePtr compose_calc(const LogicalNodePtr& input, const std::vector<ExprPtr>& exprs, SchemaPtr schema);

struct LogicalJob {
  std::vector<Pipeline> pipelines;
  std::map<std::string, std::shared_ptr<const TableDef>> tables;
  JobSettings settings;
};

}  // namespace sluice
