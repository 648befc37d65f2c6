// Scalar function registry: the built-in SQL functions and, later, user-defined functions
// registered from C++. A function is a name, argument types, a return type and a kernel that
// computes a whole batch at once. Registration happens at startup (not thread-safe against
// concurrent lookups); lookups after that are read-only and thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "types/column.h"
#include "types/value.h"

namespace sluice {

// Computes `rows` results into `out` (already reset to the return type, empty) from the
// argument columns. Must append exactly `rows` values.
using ScalarKernel = std::function<void(const Column* const* args, size_t num_args, size_t rows, Column& out)>;

struct ScalarFunction {
  std::string name;                 // lower-case
  std::vector<TypeId> arg_types;    // exact types after implicit casts
  bool variadic = false;            // last arg type repeats (concat, greatest, ...)
  TypeId return_type = TypeId::kNull;
  bool null_on_null_input = true;   // documentation/optimization hint
  ScalarKernel kernel;
  // Every argument accepts any type and is converted to TEXT first (concat, concat_ws), the
  // way PostgreSQL's "any"/anyelement parameters behave.
  bool any_args_as_text = false;
  // Optional bind-time check of constant arguments (e.g. date_trunc's unit): element i is
  // the literal value of argument i (after implicit casts) or nullptr when not a literal.
  // A non-ok Status fails make_call, so typos surface at planning instead of as NULLs.
  std::function<Status(const std::vector<const Value*>& constant_args)> validate;
};

class FunctionRegistry {
 public:
  static FunctionRegistry& global();
  void add(ScalarFunction fn);
  // Finds the best overload for `arg_types`, preferring exact matches, then implicit casts.
  // On success fills `cast_to` with the parameter type each argument must be cast to.
  Result<const ScalarFunction*> resolve(const std::string& name, const std::vector<TypeId>& arg_types,
                                        std::vector<TypeId>* cast_to) const;
  // Same, knowing which arguments are (non-NULL) TEXT literals: those may also become
  // TIMESTAMP or INTERVAL parameters, like PostgreSQL's untyped string literals.
  Result<const ScalarFunction*> resolve(const std::string& name, const std::vector<TypeId>& arg_types,
                                        const std::vector<bool>& is_text_literal,
                                        std::vector<TypeId>* cast_to) const;
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;
  // All overloads of `name` (case-insensitive), in registration order.
  std::vector<const ScalarFunction*> overloads(const std::string& name) const;
  // "lower(TEXT) -> TEXT", "concat(TEXT, ...) -> TEXT": for error messages and docs.
  static std::string signature(const ScalarFunction& fn);

 private:
  // A deque so that pointers handed out by resolve() stay valid when UDFs are added later.
  std::deque<ScalarFunction> functions_;
};

}  // namespace sluice
