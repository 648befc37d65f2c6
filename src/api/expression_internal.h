// Internal side of the expression DSL (include/sluice/expression.h): the unresolved tree and
// its binding into src/expr Exprs.
//
// Binding mirrors the SQL binder (src/sql/compiler.cc) call for call — the same make_*
// functions in the same order, the same literal folding and the same boolean checks — so a
// C++ expression and its SQL spelling produce identical Expr trees (and EXPLAIN text).
// Stateless; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "expr/expr.h"
#include "sluice/expression.h"

namespace sluice::api::internal {

struct ExpressionNode {
  enum class Kind { kColumn, kLiteral, kCall, kCast, kAnd, kOr, kNot, kIsNull, kCase, kCoalesce, kInList, kSql };
  Kind kind = Kind::kLiteral;
  std::string name;          // kColumn: column; kCall: function or operator; kSql: the text
  Value value;               // kLiteral
  TypeId type = TypeId::kNull;  // kCast: target type
  bool negated = false;      // kIsNull (IS NOT NULL), kInList (NOT IN)
  bool is_operator = false;  // kCall built by an operator (+, =, ...), not call()
  bool has_else = false;     // kCase: the last arg is the ELSE result
  std::vector<Expression> args;  // kCase: cond1, result1, cond2, result2, ..., [else]
};

// Resolves column names for binding.
class Scope {
 public:
  virtual ~Scope() = default;
  virtual Result<ExprPtr> column(const std::string& name) = 0;
  // The columns by position (name, type) for sql_expr(), whose bound column i must be
  // column(i) of this scope; an error when sql_expr() is not supported here.
  virtual Result<std::vector<Field>> positional_columns() const = 0;
};

// Binds `e` in `scope`. Errors name the problem; callers add which step it was.
Result<ExprPtr> bind(const Expression& e, Scope& scope);

// The output column name SQL would give this expression as a select item (before AS):
// the column name, the function name, "case", "coalesce", or "?column?" ("?column?_N" for
// item N > 0). For sql_expr(), the name SQL gives the text. `alias()` is not consulted.
std::string natural_name(const Expression& e, size_t index, Scope* scope);

// Column indices referenced by `e` (for window_start/window_end checks).
std::vector<int> columns_used(const ExprPtr& e);

}  // namespace sluice::api::internal
