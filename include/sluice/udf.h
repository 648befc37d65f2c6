// User-defined scalar functions: C++ functions callable from SQL and from the expression
// DSL (call("name", ...)), registered in the global FunctionRegistry next to the built-ins.
//
// Two ways to register:
//
//  - a batch kernel (fastest): computes a whole batch column at a time;
//      register_scalar_function("twice", {TypeId::kInt64}, TypeId::kInt64,
//          [](const Column* const* args, size_t, size_t rows, Column& out) { ... });
//
//  - a row-at-a-time C++ callable, whose parameter and return types give the SQL types:
//      register_scalar_function("page_category", [](std::string_view page) -> std::string {...});
//    Parameters: int64_t (BIGINT), double (DOUBLE), bool (BOOLEAN), std::string_view (TEXT),
//    sluice::Timestamp, sluice::Interval; std::optional<T> of those to receive NULLs.
//    With no std::optional parameter the function is not called for a row with a NULL
//    argument and the result is NULL (SQL's "RETURNS NULL ON NULL INPUT").
//    Return: any integer (BIGINT), floating point (DOUBLE), bool, std::string or
//    std::string_view (TEXT, copied at once), Timestamp, Interval, or std::optional of those
//    (std::nullopt = NULL). Unsupported types fail to compile with a message saying which.
//
// Names are case-insensitive SQL identifiers ([a-z_][a-z0-9_]*). A name may get several
// overloads (different argument types); registering an existing signature, or an aggregate
// or table-function name (count, sum, tumble, ...), is an error. Arguments are converted
// like for built-ins (BIGINT -> DOUBLE, NULL -> anything).
//
// Threads: caller must register every function before compiling or building any job that
// may call it, and not while another thread plans a job (the registry is read without
// locks). Registrations themselves are serialized. The callable is shared by all parallel
// instances of an operator and may be called from several threads at once: it must be
// thread-safe (a pure function is).
//
// Aggregate UDFs: register_aggregate_function<State>(name, accumulate, merge, finish
// [, serialize, deserialize]) below.
#pragma once

#include <concepts>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/status.h"
#include "expr/aggregate_functions.h"
#include "expr/functions.h"
#include "sluice/expression.h"

namespace sluice::api {

// Registers a batch kernel. Caller must give the kernel exactly `arg_types.size()` argument
// columns' worth of work: it is called with columns already cast to `arg_types` and must
// append exactly `rows` values (or NULLs) of `return_type` to `out`.
Status register_scalar_function(std::string name, std::vector<TypeId> arg_types, TypeId return_type,
                                ScalarKernel kernel);

namespace udf_internal {

template <typename T>
struct Unoptional {
  using type = T;
  static constexpr bool optional = false;
};
template <typename T>
struct Unoptional<std::optional<T>> {
  using type = T;
  static constexpr bool optional = true;
};

template <typename T>
concept ParameterBase = std::same_as<T, int64_t> || std::same_as<T, double> || std::same_as<T, bool> ||
                        std::same_as<T, std::string_view> || std::same_as<T, Timestamp> || std::same_as<T, Interval>;
template <typename T>
concept ReturnBase = std::integral<T> || std::floating_point<T> || std::same_as<T, std::string> ||
                     std::same_as<T, std::string_view> || std::same_as<T, Timestamp> || std::same_as<T, Interval>;

template <typename T>
constexpr TypeId parameter_type() {
  if constexpr (std::same_as<T, int64_t>) return TypeId::kInt64;
  if constexpr (std::same_as<T, double>) return TypeId::kFloat64;
  if constexpr (std::same_as<T, bool>) return TypeId::kBool;
  if constexpr (std::same_as<T, std::string_view>) return TypeId::kString;
  if constexpr (std::same_as<T, Timestamp>) return TypeId::kTimestamp;
  if constexpr (std::same_as<T, Interval>) return TypeId::kInterval;
  return TypeId::kNull;
}
template <typename T>
constexpr TypeId return_type() {
  if constexpr (std::same_as<T, bool>) return TypeId::kBool;
  if constexpr (std::integral<T>) return TypeId::kInt64;
  if constexpr (std::floating_point<T>) return TypeId::kFloat64;
  if constexpr (std::same_as<T, std::string> || std::same_as<T, std::string_view>) return TypeId::kString;
  if constexpr (std::same_as<T, Timestamp>) return TypeId::kTimestamp;
  if constexpr (std::same_as<T, Interval>) return TypeId::kInterval;
  return TypeId::kNull;
}

template <typename Signature>
struct CallableTraits;
template <typename R, typename... Args>
struct CallableTraits<R(Args...)> {
  using Return = R;
  using Params = std::tuple<std::remove_cvref_t<Args>...>;
  static constexpr size_t arity = sizeof...(Args);
};
template <typename R, typename... Args>
struct CallableTraits<R (*)(Args...)> : CallableTraits<R(Args...)> {};
template <typename C, typename R, typename... Args>
struct CallableTraits<R (C::*)(Args...) const> : CallableTraits<R(Args...)> {};
template <typename C, typename R, typename... Args>
struct CallableTraits<R (C::*)(Args...)> : CallableTraits<R(Args...)> {};
template <typename C, typename R, typename... Args>
struct CallableTraits<R (C::*)(Args...) const noexcept> : CallableTraits<R(Args...)> {};
template <typename C, typename R, typename... Args>
struct CallableTraits<R (C::*)(Args...) noexcept> : CallableTraits<R(Args...)> {};
template <typename R, typename... Args>
struct CallableTraits<R (*)(Args...) noexcept> : CallableTraits<R(Args...)> {};

template <typename F>
auto callable_traits() {
  using D = std::decay_t<F>;
  if constexpr (std::is_pointer_v<D> || std::is_function_v<D>) {
    return CallableTraits<D>{};
  } else {
    return CallableTraits<decltype(&D::operator())>{};
  }
}

// Reads argument `column` at `row` as P (an optional when P is one).
template <typename P>
P read_argument(const Column& column, size_t row) {
  using Base = typename Unoptional<P>::type;
  if constexpr (Unoptional<P>::optional) {
    if (column.is_null(row)) return std::nullopt;
  }
  if constexpr (std::same_as<Base, double>) {
    return column.double_at(row);
  } else if constexpr (std::same_as<Base, std::string_view>) {
    return column.string_at(row);
  } else if constexpr (std::same_as<Base, bool>) {
    return column.int_at(row) != 0;
  } else if constexpr (std::same_as<Base, int64_t>) {
    return column.int_at(row);
  } else {
    return Base{column.int_at(row)};
  }
}

template <typename R>
void append_result(const R& value, Column& out) {
  if constexpr (Unoptional<R>::optional) {
    if (!value.has_value()) {
      out.append_null();
    } else {
      append_result(*value, out);
    }
  } else if constexpr (std::same_as<R, bool>) {
    out.append_bool(value);
  } else if constexpr (std::integral<R>) {
    out.append_int(static_cast<int64_t>(value));
  } else if constexpr (std::floating_point<R>) {
    out.append_double(static_cast<double>(value));
  } else if constexpr (std::same_as<R, std::string> || std::same_as<R, std::string_view>) {
    out.append_string(value);
  } else {
    out.append_int(value.micros);
  }
}

template <typename F, typename Params, size_t... I>
ScalarKernel make_row_kernel(F fn, std::index_sequence<I...>) {
  constexpr bool any_optional = (Unoptional<std::tuple_element_t<I, Params>>::optional || ...);
  return [fn = std::move(fn)](const Column* const* args, size_t, size_t rows, Column& out) {
    for (size_t r = 0; r < rows; ++r) {
      if constexpr (!any_optional) {
        if ((args[I]->is_null(r) || ...)) {
          out.append_null();
          continue;
        }
      }
      append_result(fn(read_argument<std::tuple_element_t<I, Params>>(*args[I], r)...), out);
    }
  };
}

}  // namespace udf_internal

// Registers a row-at-a-time C++ callable (a lambda, function pointer or function object
// with one non-template call operator); SQL types come from its signature.
template <typename F>
Status register_scalar_function(std::string name, F&& fn) {
  using Traits = decltype(udf_internal::callable_traits<F>());
  using Params = typename Traits::Params;
  using R = std::remove_cvref_t<typename Traits::Return>;
  using RBase = typename udf_internal::Unoptional<R>::type;
  static_assert(udf_internal::ReturnBase<RBase>,
                "register_scalar_function: the return type must be an integer, floating point, bool, std::string, "
                "std::string_view, sluice::Timestamp, sluice::Interval, or std::optional of one of those");
  constexpr bool params_ok = []<size_t... I>(std::index_sequence<I...>) {
    return (udf_internal::ParameterBase<typename udf_internal::Unoptional<std::tuple_element_t<I, Params>>::type> &&
            ...);
  }(std::make_index_sequence<Traits::arity>{});
  static_assert(params_ok,
                "register_scalar_function: every parameter must be int64_t, double, bool, std::string_view, "
                "sluice::Timestamp, sluice::Interval, or std::optional of one of those (take TEXT as "
                "std::string_view, BIGINT as int64_t)");
  std::vector<TypeId> arg_types;
  [&]<size_t... I>(std::index_sequence<I...>) {
    (arg_types.push_back(
         udf_internal::parameter_type<typename udf_internal::Unoptional<std::tuple_element_t<I, Params>>::type>()),
     ...);
  }(std::make_index_sequence<Traits::arity>{});
  ScalarKernel kernel =
      udf_internal::make_row_kernel<std::decay_t<F>, Params>(std::forward<F>(fn), std::make_index_sequence<Traits::arity>{});
  return register_scalar_function(std::move(name), std::move(arg_types), udf_internal::return_type<RBase>(),
                                  std::move(kernel));
}

// Registers a user-defined aggregate function (UDAF), callable from SQL like SUM:
//
//   struct Range { bool any = false; double lo = 0, hi = 0; };
//   register_aggregate_function<Range>("value_range",
//       [](Range& r, double v) { ... },                  // accumulate one value
//       [](Range& into, const Range& from) { ... },      // merge two groups (session windows)
//       [](const Range& r) -> std::optional<double> {...});  // the result
//
// State must be default-constructible; one State lives per group and window, freed when the
// window fires. The accumulate parameter gives the SQL argument type (as for scalar UDFs);
// make it std::optional<T> to see NULL values, otherwise rows with a NULL argument are
// skipped. The finish return type gives the SQL result type (std::optional for NULL).
//
// Checkpoints: a trivially copyable State (numbers, bools, fixed arrays and structs of
// those; no pointers) is checkpointed as its bytes, with nothing to write (restoring checks
// the size, so a State whose layout changed fails to restore with kDataLoss rather than
// reading garbage). Any other State (std::string, containers, pointers) needs the overload
// below with serialize/deserialize; without them the UDAF works, but a job that
// checkpoints and uses it is refused ("aggregate function 'x' has no serialize/deserialize;
// it cannot be checkpointed").
// Threads: as for scalar UDFs (register before planning; callables must be thread-safe,
// each call gets its own State).
template <typename State, typename Accumulate, typename Merge, typename Finish>
Status register_aggregate_function(std::string name, Accumulate accumulate, Merge merge, Finish finish);

// The same with explicit checkpoint hooks (for any State, trivially copyable or not):
//
//   register_aggregate_function<Words>("distinct_words", accumulate, merge, finish,
//       [](const Words& w, std::string& out) { ... },                // append w's bytes to out
//       [](std::string_view in, Words& w) -> sluice::Status { ... });  // rebuild w from in
//
// deserialize gets exactly the bytes serialize appended, into a default-constructed State;
// it must return a non-ok Status (not crash) for bytes it cannot read — they come from a
// file. After restore, the State must behave exactly as the one serialized.
template <typename State, typename Accumulate, typename Merge, typename Finish, typename Serialize,
          typename Deserialize>
Status register_aggregate_function(std::string name, Accumulate accumulate, Merge merge, Finish finish,
                                   Serialize serialize, Deserialize deserialize);

namespace udf_internal {

template <typename State>
struct AggregateHolder : AggregateState {
  State value;
};

// The AggregateFunctionDef of a UDAF, without checkpoint hooks.
template <typename State, typename Accumulate, typename Merge, typename Finish>
AggregateFunctionDef make_aggregate_function(std::string name, Accumulate accumulate, Merge merge, Finish finish) {
  static_assert(std::is_default_constructible_v<State>, "register_aggregate_function: State must be default-constructible");
  using ATraits = decltype(callable_traits<Accumulate>());
  static_assert(ATraits::arity == 2, "register_aggregate_function: accumulate must take (State&, value)");
  using P = std::tuple_element_t<1, typename ATraits::Params>;
  using PBase = typename Unoptional<P>::type;
  static_assert(ParameterBase<PBase>,
                "register_aggregate_function: the accumulated value must be int64_t, double, bool, std::string_view, "
                "sluice::Timestamp, sluice::Interval or std::optional of one of those");
  using FTraits = decltype(callable_traits<Finish>());
  using R = std::remove_cvref_t<typename FTraits::Return>;
  using RBase = typename Unoptional<R>::type;
  static_assert(ReturnBase<RBase>,
                "register_aggregate_function: finish must return an integer, floating point, bool, std::string, "
                "sluice::Timestamp, sluice::Interval, or std::optional of one of those");
  using Holder = AggregateHolder<State>;
  AggregateFunctionDef def;
  def.name = std::move(name);
  def.arg_type = parameter_type<PBase>();
  def.return_type = return_type<RBase>();
  def.create = [] { return std::make_unique<Holder>(); };
  def.accumulate = [accumulate](AggregateState* const* states, const Column& arg, const uint32_t* rows, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if constexpr (!Unoptional<P>::optional) {
        if (arg.is_null(rows[i])) continue;
      }
      accumulate(static_cast<Holder*>(states[i])->value, read_argument<P>(arg, rows[i]));
    }
  };
  def.merge = [merge](AggregateState& into, const AggregateState& from) {
    merge(static_cast<Holder&>(into).value, static_cast<const Holder&>(from).value);
  };
  def.finish = [finish](const AggregateState& state, Column& out) {
    append_result(finish(static_cast<const Holder&>(state).value), out);
  };
  return def;
}

}  // namespace udf_internal

template <typename State, typename Accumulate, typename Merge, typename Finish>
Status register_aggregate_function(std::string name, Accumulate accumulate, Merge merge, Finish finish) {
  AggregateFunctionDef def = udf_internal::make_aggregate_function<State>(std::move(name), std::move(accumulate),
                                                                          std::move(merge), std::move(finish));
  if constexpr (std::is_trivially_copyable_v<State> && !std::is_pointer_v<State>) {
    using Holder = udf_internal::AggregateHolder<State>;
    def.serialize = [](const AggregateState& state, std::string& out) {
      out.append(reinterpret_cast<const char*>(&static_cast<const Holder&>(state).value), sizeof(State));
    };
    def.deserialize = [name = def.name](std::string_view in, AggregateState& into) -> Status {
      if (in.size() != sizeof(State)) {
        return Status(StatusCode::kDataLoss,
                      fmt::format("aggregate function '{}': checkpointed state is {} bytes, the State type has {} "
                                  "(did the State type change?)",
                                  name, in.size(), sizeof(State)));
      }
      std::memcpy(static_cast<void*>(&static_cast<Holder&>(into).value), in.data(), sizeof(State));
      return Status::ok();
    };
  }
  return AggregateFunctionRegistry::global().add(std::move(def));
}

template <typename State, typename Accumulate, typename Merge, typename Finish, typename Serialize,
          typename Deserialize>
Status register_aggregate_function(std::string name, Accumulate accumulate, Merge merge, Finish finish,
                                   Serialize serialize, Deserialize deserialize) {
  static_assert(std::is_invocable_r_v<void, const Serialize&, const State&, std::string&>,
                "register_aggregate_function: serialize must be callable as void(const State&, std::string& out)");
  static_assert(std::is_same_v<std::invoke_result_t<const Deserialize&, std::string_view, State&>, Status>,
                "register_aggregate_function: deserialize must be callable as Status(std::string_view, State&)");
  using Holder = udf_internal::AggregateHolder<State>;
  AggregateFunctionDef def = udf_internal::make_aggregate_function<State>(std::move(name), std::move(accumulate),
                                                                          std::move(merge), std::move(finish));
  def.serialize = [serialize = std::move(serialize)](const AggregateState& state, std::string& out) {
    serialize(static_cast<const Holder&>(state).value, out);
  };
  def.deserialize = [deserialize = std::move(deserialize)](std::string_view in, AggregateState& into) -> Status {
    return deserialize(in, static_cast<Holder&>(into).value);
  };
  return AggregateFunctionRegistry::global().add(std::move(def));
}

}  // namespace sluice::api
