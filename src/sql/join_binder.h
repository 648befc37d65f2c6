// Join planning for the SQL binder: turns the equality keys and the residual condition of a
// bound join into a LogicalNode of kind kJoin (plan/logical_plan.h).
//
// The binder (sql/compiler.cc) finds the key pairs (conjuncts `l = r` or
// `l IS NOT DISTINCT FROM r` of the ON clause, or of WHERE for comma joins, whose sides use
// columns of one input each) and binds them against each input. Keys of different types
// are cast to their common type, and keys that are expressions rather than columns are
// computed into hidden trailing columns of their input (so both sides hash equal keys
// alike); the result is projected back to [left columns..., right columns...].
// Stateless functions.
#pragma once

#include <functional>
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

}  // namespace sluice
