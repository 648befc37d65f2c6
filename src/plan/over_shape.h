// The logical-plan shape of OVER aggregates, built once for every front end (the SQL
// binder; the C++ builder can call the same function).
//
// [base] -> a Calc appending the partition keys, aggregate arguments and FILTER conditions
// that are not plain columns of base as hidden columns (skipped when there are none) ->
// the Over node, whose output is [base columns..., hidden columns..., aggregates...] and
// keeps base's rowtime. The front end projects its select list over that: base's columns
// keep their indexes and aggregate i is column `first_aggregate + i`.
// Stateless functions.
#pragma once

#include <vector>

#include "common/status.h"
#include "plan/logical_plan.h"

namespace sluice {

struct OverShape {
  LogicalNodePtr base;                  // must have a rowtime (the ORDER BY column)
  std::vector<ExprPtr> partition_keys;  // over base
  OverFrame frame;
  // One per aggregate: the spec (input, filter and time_input ignored; input_type and
  // result_type set by the caller), its argument (null for COUNT(*)) and FILTER condition
  // (null for none), both over base.
  std::vector<AggregateSpec> aggregates;
  std::vector<ExprPtr> arguments;
  std::vector<ExprPtr> filters;
  std::vector<std::string> names;  // the aggregates' output column names
};

struct OverNode {
  LogicalNodePtr node;
  size_t first_aggregate = 0;  // output column of the first aggregate
};

// Errors (an aggregate OVER cannot compute, more than kMaxOverAggregates, no rowtime) are
// one line without a position (the caller adds it).
Result<OverNode> make_over_node(OverShape shape);

}  // namespace sluice
