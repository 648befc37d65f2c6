// Aggregate calls for Stream::aggregate / KeyedStream::aggregate: the C++ spelling of
// COUNT(*), COUNT(x), COUNT(DISTINCT x), SUM, MIN, MAX and AVG.
//
//   keyed.aggregate(count().as("clicks"), count_distinct("user_id").as("users"),
//                   avg(col("amount")).as("avg_amount"))
//
// The output column is named by as(); without it, by the function name ("count"), as in SQL.
// Argument types are checked when the pipeline is built (SUM/AVG need numbers, MIN/MAX of
// BOOLEAN is refused), with the same messages as the SQL binder.
// Immutable values; cheap to copy.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/expression.h"

namespace sluice::api {

class AggregateCall {
 public:
  enum class Function { kCountStar, kCount, kCountDistinct, kSum, kMin, kMax, kAvg };

  AggregateCall(Function function, std::optional<Expression> argument)
      : function_(function), argument_(std::move(argument)) {}

  // The output column name.
  AggregateCall as(std::string name) const {
    AggregateCall c = *this;
    c.alias_ = std::move(name);
    return c;
  }

  Function function() const { return function_; }
  const std::optional<Expression>& argument() const { return argument_; }
  const std::string& alias() const { return alias_; }
  // SQL name of the function: "count", "sum", "min", "max", "avg".
  std::string sql_name() const;
  // "count(DISTINCT user_id)": for messages.
  std::string to_string() const;

 private:
  Function function_;
  std::optional<Expression> argument_;
  std::string alias_;
};

// A column name or an Expression: the argument of an aggregate.
template <typename T>
concept AggregateArgument =
    std::same_as<std::remove_cvref_t<T>, Expression> || std::convertible_to<T, std::string_view>;

namespace internal {
template <AggregateArgument T>
Expression aggregate_argument(T&& v) {
  if constexpr (std::same_as<std::remove_cvref_t<T>, Expression>) {
    return std::forward<T>(v);
  } else {
    return col(std::string(std::string_view(v)));  // a string names a column here
  }
}
}  // namespace internal

// COUNT(*)
inline AggregateCall count() { return AggregateCall(AggregateCall::Function::kCountStar, std::nullopt); }
// COUNT(x): rows where x is not NULL.
template <AggregateArgument T>
AggregateCall count(T&& x) {
  return AggregateCall(AggregateCall::Function::kCount, internal::aggregate_argument(std::forward<T>(x)));
}
// COUNT(DISTINCT x): exact.
template <AggregateArgument T>
AggregateCall count_distinct(T&& x) {
  return AggregateCall(AggregateCall::Function::kCountDistinct, internal::aggregate_argument(std::forward<T>(x)));
}
template <AggregateArgument T>
AggregateCall sum(T&& x) {
  return AggregateCall(AggregateCall::Function::kSum, internal::aggregate_argument(std::forward<T>(x)));
}
template <AggregateArgument T>
AggregateCall min(T&& x) {
  return AggregateCall(AggregateCall::Function::kMin, internal::aggregate_argument(std::forward<T>(x)));
}
template <AggregateArgument T>
AggregateCall max(T&& x) {
  return AggregateCall(AggregateCall::Function::kMax, internal::aggregate_argument(std::forward<T>(x)));
}
template <AggregateArgument T>
AggregateCall avg(T&& x) {
  return AggregateCall(AggregateCall::Function::kAvg, internal::aggregate_argument(std::forward<T>(x)));
}

}  // namespace sluice::api
