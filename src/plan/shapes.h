// Logical-plan shapes both front ends build (the SQL binder in src/sql and the C++ builder
// in src/api): each construct's nodes are assembled here once, so SQL and C++ jobs get the
// same plan for the same query. The front ends only bind names and expressions.
//
// Joins: the binder (sql/bind_from.cc) finds the key pairs (conjuncts `l = r` or
// `l IS NOT DISTINCT FROM r` of the ON clause, or of WHERE for comma joins, whose sides use
// columns of one input each) and binds them against each input. Keys of different types
// are cast to their common type, and keys that are expressions rather than columns are
// computed into hidden trailing columns of their input (so both sides hash equal keys
// alike); the result is projected back to [left columns..., right columns...].
//
// Aggregation: [filter] -> a pre-projection Calc [keys..., aggregate arguments..., (time)]
// -> Aggregate, whose output is [(window_start, window_end), keys..., aggregates...]; the
// front end adds the projection (select list, HAVING) over it.
// Stateless functions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "plan/logical_plan.h"

namespace sluice {

struct JoinKeyPair {
  ExprPtr left;   // over the left input
  ExprPtr right;  // over the right input
  bool null_safe = false;
};

// Binds the residual condition over [left columns, `left_extra` hidden columns, right
// columns, `right_extra` hidden columns]; returns null when there is none.
using JoinConditionBinder = std::function<Result<ExprPtr>(size_t left_extra, size_t right_extra)>;

// The join of `left` and `right`, producing the left input's columns then the right's (all
// nullable). Errors are one line without a position (the caller adds it).
Result<LogicalNodePtr> make_join_node(JoinType type, const LogicalNodePtr& left, const LogicalNodePtr& right,
                                      const std::vector<JoinKeyPair>& keys, const JoinConditionBinder& condition);

// UNION ALL of `left` and `right` (columns by position, types unified to their common type
// with casts where they differ, names from `left`; the rowtime kept when both have it at the
// same position). Errors are one line without a position: "inputs have 2 and 3 columns" or
// "column 2 has types TEXT and BIGINT".
Result<LogicalNodePtr> make_union_node(const LogicalNodePtr& left, const LogicalNodePtr& right);

// Temporal and lookup joins (SQL: JOIN versioned(t, ts) / JOIN lookup(t, ...)): the join
// make_join_node built between the stream and `table_node` (a plain read of `table`), marked
// as such. The join keys must cover the table's primary key (table_primary_key); a lookup's
// table keys must be columns of the table itself. Errors are one line without a position.
struct TemporalJoinShape {
  bool versioned = true;  // versioned(): event time; else lookup(): processing time
  std::shared_ptr<const TableDef> table;
  LogicalNodePtr table_node;  // the join's right input as the front end bound it
  LookupJoinOptions lookup;
};
// The primary key of a versioned or lookup table: its PRIMARY KEY constraint, else the
// `primary_key` option ('a,b'); empty when it has neither.
std::vector<std::string> table_primary_key(const TableDef& table);
// `joined`: make_join_node's result (the kJoin, or a Calc over it); `stream_rowtime`: the
// stream's event-time column (versioned(): the time the rows join AS OF).
Result<LogicalNodePtr> make_temporal_join_node(const LogicalNodePtr& joined, int stream_rowtime,
                                               const TemporalJoinShape& shape);

// An aggregation over `base` (a TUMBLE/HOP/SESSION's input when windowed).
struct AggregateShape {
  LogicalNodePtr base;
  ExprPtr filter;                      // over base; null for none
  std::vector<ExprPtr> inputs;         // over base: the keys, then the aggregate arguments
  std::vector<std::string> input_names;
  size_t num_keys = 0;
  std::vector<AggregateSpec> aggregates;  // `input` indexes `inputs`; time_input is set here
  // Windowed aggregation: the window and base's event-time column it assigns by.
  bool windowed = false;
  WindowSpec window;
  int window_time_column = -1;
};

// The Aggregate node (over its pre-projection Calc) of `shape`. Aggregates ordered by event
// time (agg_kind_is_ordered) read the window's time column, else base's rowtime; without
// one they follow arrival order.
LogicalNodePtr make_aggregate_node(AggregateShape shape);

}  // namespace sluice
