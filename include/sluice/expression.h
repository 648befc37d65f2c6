// Expressions for the C++ pipeline API: a small, typed DSL that builds the same expression
// trees the SQL binder builds.
//
//   col("price") * 2 > lit(10)                  // (price * 2) > 10
//   col("page") != "/health"                    // a C++ string next to an Expression is a literal
//   call("lower", col("page")).as("page_lc")    // any SQL function, built-in or a registered UDF
//   cast(col("amount"), TypeId::kInt64)
//   sql_expr("price * 2 > 10 AND page LIKE '/product/%'")   // SQL text, bound like a WHERE clause
//
// An Expression is unresolved: it names columns, and is bound (names resolved, types checked,
// implicit casts inserted) against a stream's columns when a Stream method uses it. Binding
// errors (unknown column, type mismatch, unknown function) are reported as a Status by
// Pipeline::build()/run() and Stream::status(), naming the step and the expression.
//
// Misuse that can be caught at compile time is: operands must be Expressions or C++ values
// with a SQL type (integers, floating point, bool, strings, sluice::Timestamp/Interval);
// anything else fails the ExpressionOperand concept with a readable message.
//
// Expressions are immutable values (shared structure); copying is cheap; safe to share
// between threads.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sluice/types.h"

namespace sluice::api {

namespace internal {
struct ExpressionNode;
}  // namespace internal

// A TIMESTAMP (microseconds since 1970-01-01 UTC) or INTERVAL (microseconds) value, as a
// distinct C++ type so that it is not mistaken for a BIGINT.
struct Timestamp {
  int64_t micros = 0;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};
struct Interval {
  int64_t micros = 0;
  friend bool operator==(const Interval&, const Interval&) = default;
};

class Expression;

// C++ values that become SQL literals.
template <typename T>
concept LiteralValue =
    std::same_as<std::remove_cvref_t<T>, bool> || std::integral<std::remove_cvref_t<T>> ||
    std::floating_point<std::remove_cvref_t<T>> || std::convertible_to<T, std::string_view> ||
    std::same_as<std::remove_cvref_t<T>, Timestamp> || std::same_as<std::remove_cvref_t<T>, Interval> ||
    std::same_as<std::remove_cvref_t<T>, Value>;

// What may appear on either side of an expression operator.
template <typename T>
concept ExpressionOperand = std::same_as<std::remove_cvref_t<T>, Expression> || LiteralValue<T>;

class Expression {
 public:
  // An expression that is a SQL NULL literal (untyped, like NULL in SQL).
  Expression();

  // Output name when used in select(), key_by() or aggregate arguments ("AS name").
  Expression as(std::string name) const;
  const std::string& alias() const { return alias_; }

  // SQL-like rendering, e.g. "((price * 2) > 10)": for error messages and debugging.
  std::string to_string() const;

  // Internal representation (used by the pipeline builder).
  const std::shared_ptr<const internal::ExpressionNode>& node() const { return node_; }
  explicit Expression(std::shared_ptr<const internal::ExpressionNode> node, std::string alias = {});

 private:
  std::shared_ptr<const internal::ExpressionNode> node_;
  std::string alias_;
};

// A column of the stream the expression is used on (case-insensitive, like SQL).
Expression col(std::string name);

// Literals. lit(5) is BIGINT, lit(2.5) DOUBLE, lit("x") TEXT, lit(true) BOOLEAN.
Expression lit(Value value);
Expression lit(bool value);
Expression lit(double value);
Expression lit(std::string_view value);
Expression lit(const char* value);
Expression lit(Timestamp value);
Expression lit(Interval value);
template <std::integral T>
  requires(!std::same_as<T, bool>)
Expression lit(T value) {
  return lit(Value::int64(static_cast<int64_t>(value)));
}
// A NULL of a given type (null_literal() is an untyped NULL).
Expression null_literal(TypeId type = TypeId::kNull);

// Converts an operand (Expression or C++ value) to an Expression.
template <ExpressionOperand T>
Expression to_expression(T&& v) {
  if constexpr (std::same_as<std::remove_cvref_t<T>, Expression>) {
    return std::forward<T>(v);
  } else if constexpr (std::convertible_to<T, std::string_view>) {
    return lit(std::string_view(v));
  } else {
    return lit(v);
  }
}

// A function call by SQL name (built-ins such as lower, date_trunc, coalesce, or a UDF
// registered with register_scalar_function). Aggregates (count, sum, ...) are not allowed
// here: use Stream::aggregate.
Expression call(std::string function, std::vector<Expression> args);
template <ExpressionOperand... Args>
Expression call(std::string function, Args&&... args) {
  return call(std::move(function), std::vector<Expression>{to_expression(std::forward<Args>(args))...});
}

// CAST(e AS type).
Expression cast(Expression e, TypeId type);
// e IS NULL / e IS NOT NULL.
Expression is_null(Expression e);
Expression is_not_null(Expression e);
// CASE WHEN c1 THEN r1 ... [ELSE otherwise] END.
Expression case_when(std::vector<std::pair<Expression, Expression>> whens,
                     std::optional<Expression> otherwise = std::nullopt);
Expression coalesce(std::vector<Expression> args);
// e IN (v1, v2, ...).
Expression in_list(Expression e, std::vector<Expression> values);
// SQL text, bound against the stream's columns like a WHERE/SELECT expression (any SQL
// expression syntax; no aggregates, no subqueries). Only on streams before an aggregate().
Expression sql_expr(std::string text);

// Binary operators. Names match SQL: +, -, *, /, %, =, <>, <, <=, >, >=, || (as concat()),
// AND (&&), OR (||), NOT (!), unary minus.
Expression binary(std::string op, Expression left, Expression right);
Expression logical_and(Expression left, Expression right);
Expression logical_or(Expression left, Expression right);
Expression logical_not(Expression e);
Expression negate(Expression e);
// left || right (SQL string concatenation; the C++ operator|| means OR).
template <ExpressionOperand L, ExpressionOperand R>
Expression concat(L&& left, R&& right) {
  return binary("||", to_expression(std::forward<L>(left)), to_expression(std::forward<R>(right)));
}
// value LIKE pattern.
template <ExpressionOperand L, ExpressionOperand R>
Expression like(L&& value, R&& pattern) {
  return binary("like", to_expression(std::forward<L>(value)), to_expression(std::forward<R>(pattern)));
}

#define SLUICE_API_BINARY_OPERATOR(op, sql)                                                     \
  template <ExpressionOperand L, ExpressionOperand R>                                            \
    requires(std::same_as<std::remove_cvref_t<L>, Expression> ||                                 \
             std::same_as<std::remove_cvref_t<R>, Expression>)                                   \
  Expression operator op(L&& l, R&& r) {                                                         \
    return binary(sql, to_expression(std::forward<L>(l)), to_expression(std::forward<R>(r)));     \
  }
SLUICE_API_BINARY_OPERATOR(+, "+")
SLUICE_API_BINARY_OPERATOR(-, "-")
SLUICE_API_BINARY_OPERATOR(*, "*")
SLUICE_API_BINARY_OPERATOR(/, "/")
SLUICE_API_BINARY_OPERATOR(%, "%")
SLUICE_API_BINARY_OPERATOR(==, "=")
SLUICE_API_BINARY_OPERATOR(!=, "<>")
SLUICE_API_BINARY_OPERATOR(<, "<")
SLUICE_API_BINARY_OPERATOR(<=, "<=")
SLUICE_API_BINARY_OPERATOR(>, ">")
SLUICE_API_BINARY_OPERATOR(>=, ">=")
#undef SLUICE_API_BINARY_OPERATOR

template <ExpressionOperand L, ExpressionOperand R>
  requires(std::same_as<std::remove_cvref_t<L>, Expression> || std::same_as<std::remove_cvref_t<R>, Expression>)
Expression operator&&(L&& l, R&& r) {
  return logical_and(to_expression(std::forward<L>(l)), to_expression(std::forward<R>(r)));
}
template <ExpressionOperand L, ExpressionOperand R>
  requires(std::same_as<std::remove_cvref_t<L>, Expression> || std::same_as<std::remove_cvref_t<R>, Expression>)
Expression operator||(L&& l, R&& r) {
  return logical_or(to_expression(std::forward<L>(l)), to_expression(std::forward<R>(r)));
}
inline Expression operator!(const Expression& e) { return logical_not(e); }
inline Expression operator-(const Expression& e) { return negate(e); }

}  // namespace sluice::api
