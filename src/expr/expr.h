// Expressions: typed, vectorized scalar expressions evaluated a whole batch at a time.
//
// The binder (src/sql) builds Expr trees with the make_* functions below, which resolve
// functions and operators, check types and insert implicit casts; a type error comes back
// as a Status the binder decorates with the SQL line and column. After planning, Expr trees
// are immutable and shared (ExprPtr) by every parallel instance of an operator; all
// per-evaluation memory lives in an EvalScratch owned by the operator instance, so evaluation
// is thread-compatible (one scratch per thread) and does no per-record heap allocation.
//
// Runtime errors never throw: division by zero, integer overflow and failed casts yield NULL
// (documented in docs/sql-functions.md).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "types/record_batch.h"
#include "types/value.h"

namespace sluice {

// Reusable columns for intermediate results. reset() at the start of each batch; columns
// handed out stay valid until the next reset(). Owned by one operator instance / thread.
class EvalScratch {
 public:
  Column& take(TypeId type) {
    if (next_ == pool_.size()) pool_.emplace_back(type);
    Column& c = pool_[next_++];
    c.reset(type);
    return c;
  }
  void reset() { next_ = 0; }
  // For evaluating a long chain in bounded memory: columns taken after mark() are handed
  // out again after release_to(mark) (their contents must no longer be needed).
  size_t mark() const { return next_; }
  void release_to(size_t mark) { next_ = mark; }

 private:
  std::deque<Column> pool_;  // deque: references stay valid as it grows
  size_t next_ = 0;
};

class Expr {
 public:
  enum class Kind { kColumn, kLiteral, kCall, kCast, kCase, kAnd, kOr, kNot, kIsNull, kCoalesce, kInList };

  Expr(Kind kind, TypeId type) : kind_(kind), type_(type) {}
  virtual ~Expr() = default;

  Kind kind() const { return kind_; }
  TypeId type() const { return type_; }

  // Evaluates over every row of `input`; the result has input.num_rows rows. The returned
  // column is either a column of `input` (column references) or one taken from `scratch`.
  virtual const Column& eval(const RecordBatch& input, EvalScratch& scratch) const = 0;
  // SQL-like rendering for EXPLAIN: "(price * 2)", "lower(page)", "$3:user_id".
  virtual std::string to_string() const = 0;
  // Children, for plan rewrites and analysis (column usage).
  virtual std::vector<std::shared_ptr<const Expr>> children() const { return {}; }

 private:
  Kind kind_;
  TypeId type_;
};

using ExprPtr = std::shared_ptr<const Expr>;

// Reference to column `index` of the input batch.
ExprPtr make_column_ref(int index, TypeId type, std::string name);
// For kColumn expressions: the referenced index (else -1).
int column_ref_index(const Expr& e);
// A constant. Value::null(type) makes a typed NULL; Value::null() an untyped NULL literal
// whose type is taken from context (make_call/make_case/make_coalesce adapt it).
ExprPtr make_literal(Value value);
// For kLiteral expressions: the value (else nullptr).
const Value* literal_value(const Expr& e);
// For kCall expressions: the function or operator name as resolved ("+", ">=", "lower");
// else "". For plan analysis (time bounds of a join condition).
const std::string& call_name(const Expr& e);

// A function or operator call, resolved by name and argument types, with implicit casts
// (BIGINT -> DOUBLE, untyped NULL -> anything, TEXT literal -> TIMESTAMP/INTERVAL where a
// timestamp/interval is expected). Operator names: "+", "-", "*", "/", "%", "=", "<>",
// "<", "<=", ">", ">=", "||", "like", "ilike", "neg" (unary minus). Function names are
// case-insensitive (see function_names()).
Result<ExprPtr> make_call(const std::string& name, std::vector<ExprPtr> args);
Result<ExprPtr> make_cast(ExprPtr input, TypeId to);
Result<ExprPtr> make_and(std::vector<ExprPtr> args);  // three-valued logic, >= 2 args
Result<ExprPtr> make_or(std::vector<ExprPtr> args);
Result<ExprPtr> make_not(ExprPtr arg);
ExprPtr make_is_null(ExprPtr arg, bool negated);  // IS NULL / IS NOT NULL (never NULL)
// CASE WHEN c1 THEN r1 ... ELSE e END (else_result may be null = NULL). Result types are
// unified (BIGINT+DOUBLE -> DOUBLE); incompatible branches are a type error.
Result<ExprPtr> make_case(std::vector<std::pair<ExprPtr, ExprPtr>> whens, ExprPtr else_result);
Result<ExprPtr> make_coalesce(std::vector<ExprPtr> args);
Result<ExprPtr> make_in_list(ExprPtr needle, std::vector<ExprPtr> list, bool negated);

// An INTERVAL literal with a SQL-standard qualifier (INTERVAL '1:30' HOUR TO MINUTE,
// INTERVAL '90' MINUTE, INTERVAL '1.5' SECOND(3)), read as PostgreSQL reads it: a bare
// number counts the trailing field, 'a:b' is hours:minutes (minutes:seconds for MINUTE TO
// SECOND), fields below the trailing one are truncated (of the time part; days stay), and
// the precision rounds the seconds. Days are 24 hours. YEAR and MONTH qualifiers, and
// month/year units, are refused: they have no fixed length in microseconds (see
// parse_calendar_interval for where they are meaningful).
enum class IntervalField { kYear, kMonth, kDay, kHour, kMinute, kSecond };
struct IntervalQualifier {
  IntervalField from = IntervalField::kDay;  // leading field
  IntervalField to = IntervalField::kSecond;  // trailing field
  int precision = -1;                        // fractional second digits, -1: all
};
Result<int64_t> parse_qualified_interval(std::string_view text, const IntervalQualifier& q);
// The same text read with months kept apart ('1 year 2 months 3 days', '1-2' YEAR TO MONTH,
// '1' MONTH), as PostgreSQL's interval {months, days, time} with days folded into the
// microseconds (Sluice's days are 24 hours). A fraction of a year is rounded to months, a
// fraction of a month is days of 30. The binder applies the months to a TIMESTAMP with
// add_months() (month-end clamping) before the microseconds.
struct CalendarInterval {
  int64_t months = 0;
  int64_t micros = 0;
};
Result<CalendarInterval> parse_calendar_interval(std::string_view text, const IntervalQualifier& q);

// Whether a value of `from` may be implicitly converted to `to`, and the common type of two
// (kNull when none). Used by the binder for UNION and comparisons.
bool implicitly_castable(TypeId from, TypeId to);
TypeId common_type(TypeId a, TypeId b);

// Names of all registered scalar functions (for error messages and docs).
std::vector<std::string> function_names();

// Evaluates a constant expression (no column references) to a Value; used for window sizes
// and option-like arguments.
Result<Value> evaluate_constant(const ExprPtr& e);

// --- Additions beyond the original API (all optional for callers) ---

// Converts `e` to `to` using only implicit conversions (BIGINT -> DOUBLE, untyped NULL ->
// anything, TEXT literal -> TIMESTAMP/INTERVAL); a type error otherwise. For the binder's
// INSERT/UNION column alignment. Returns `e` itself when it already has type `to`.
Result<ExprPtr> make_implicit_cast(ExprPtr e, TypeId to);
// Whether `e` can be implicitly converted to `to`, taking literal-ness into account (a TEXT
// literal converts to TIMESTAMP/INTERVAL, a TEXT column does not).
bool implicitly_castable(const Expr& e, TypeId to);
// True when `e` has no column references (evaluate_constant() will succeed).
bool is_constant(const Expr& e);
// Calls fn on `e` and every expression below it (pre-order), without recursion: a chain
// such as a + b + c ... may be tens of thousands of levels deep. fn returns false to stop.
void visit_subexpressions(const ExprPtr& e, const std::function<bool(const ExprPtr&)>& fn);
// The column indexes `e` references, in pre-order (with repeats).
std::vector<int> referenced_columns(const ExprPtr& e);

}  // namespace sluice
