// FunctionRegistry: overload resolution and the global registry of built-in functions.
//
// The global registry is built on first use (a function-local static, so initialization is
// thread-safe); later add() calls (UDFs) must happen before planning starts. Lookups are
// read-only. Operators live in a separate registry (operator_registry()) so that
// function_names() lists only names callable as f(...).
#include "expr/functions.h"

#include <algorithm>
#include <climits>
#include <fmt/format.h>

#include "expr/expr_internal.h"

namespace sluice {

using expr_internal::to_lower_ascii;

namespace {

// Cost of converting an argument of type `from` to parameter type `to`; -1 when impossible.
// Exact matches cost nothing so that they always win over conversions.
int conversion_cost(TypeId from, TypeId to, bool text_literal, bool any_as_text) {
  if (from == to) return 0;
  if (from == TypeId::kNull) return 1;
  if (from == TypeId::kInt64 && to == TypeId::kFloat64) return 1;
  if (text_literal && (to == TypeId::kTimestamp || to == TypeId::kInterval)) return 1;
  if (any_as_text && to == TypeId::kString) return 1;
  return -1;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string types_list(const std::vector<TypeId>& types) {
  std::string out;
  for (size_t i = 0; i < types.size(); ++i) {
    if (i) out += ", ";
    out += type_name(types[i]);
  }
  return out;
}

}  // namespace

FunctionRegistry& FunctionRegistry::global() {
  static FunctionRegistry* registry = [] {
    auto* r = new FunctionRegistry();  // never destroyed: usable from static destructors
    expr_internal::register_string_functions(*r);
    expr_internal::register_math_functions(*r);
    expr_internal::register_time_functions(*r);
    expr_internal::register_conditional_functions(*r);
    expr_internal::register_json_functions(*r);
    return r;
  }();
  return *registry;
}

void FunctionRegistry::add(ScalarFunction fn) {
  fn.name = to_lower_ascii(fn.name);
  SLUICE_ASSERT(static_cast<bool>(fn.kernel), "function {} registered without a kernel", fn.name);
  SLUICE_ASSERT(!fn.variadic || !fn.arg_types.empty(), "variadic function {} needs a parameter type", fn.name);
  functions_.push_back(std::move(fn));
}

std::string FunctionRegistry::signature(const ScalarFunction& fn) {
  std::string args = types_list(fn.arg_types);
  if (fn.variadic) args += ", ...";
  return fmt::format("{}({}) -> {}", fn.name, args, type_name(fn.return_type));
}

std::vector<const ScalarFunction*> FunctionRegistry::overloads(const std::string& name) const {
  const std::string lname = to_lower_ascii(name);
  std::vector<const ScalarFunction*> out;
  for (const ScalarFunction& fn : functions_) {
    if (fn.name == lname) out.push_back(&fn);
  }
  return out;
}

Result<const ScalarFunction*> FunctionRegistry::resolve(const std::string& name,
                                                        const std::vector<TypeId>& arg_types,
                                                        std::vector<TypeId>* cast_to) const {
  return resolve(name, arg_types, std::vector<bool>(arg_types.size(), false), cast_to);
}

Result<const ScalarFunction*> FunctionRegistry::resolve(const std::string& name,
                                                        const std::vector<TypeId>& arg_types,
                                                        const std::vector<bool>& is_text_literal,
                                                        std::vector<TypeId>* cast_to) const {
  const std::string lname = to_lower_ascii(name);
  const ScalarFunction* best = nullptr;
  int best_cost = INT_MAX;
  bool known = false;
  for (const ScalarFunction& fn : functions_) {
    if (fn.name != lname) continue;
    known = true;
    const size_t n = fn.arg_types.size();
    if (fn.variadic ? arg_types.size() < n : arg_types.size() != n) continue;
    int cost = 0;
    for (size_t i = 0; i < arg_types.size() && cost >= 0; ++i) {
      const TypeId param = i < n ? fn.arg_types[i] : fn.arg_types.back();
      const bool lit = i < is_text_literal.size() && is_text_literal[i];
      const int c = conversion_cost(arg_types[i], param, lit, fn.any_args_as_text);
      cost = c < 0 ? -1 : cost + c;
    }
    // Ties go to the overload registered first (BIGINT before DOUBLE, ...), which makes
    // all-NULL argument lists resolve deterministically.
    if (cost >= 0 && cost < best_cost) {
      best = &fn;
      best_cost = cost;
    }
  }
  if (!known) {
    std::string suggestion;
    size_t best_dist = 3;
    for (const std::string& candidate : names()) {
      size_t d = edit_distance(lname, candidate);
      if (d < best_dist && d < std::max<size_t>(lname.size(), 2)) {
        best_dist = d;
        suggestion = candidate;
      }
    }
    if (!suggestion.empty()) return type_error("unknown function '{}'; did you mean '{}'?", name, suggestion);
    return type_error("unknown function '{}'", name);
  }
  if (best == nullptr) {
    std::string candidates;
    for (const ScalarFunction* fn : overloads(lname)) {
      if (!candidates.empty()) candidates += ", ";
      std::string args = types_list(fn->arg_types);
      if (fn->variadic) args += ", ...";
      candidates += fmt::format("{}({})", fn->name, args);
    }
    return type_error("function {}({}) does not exist; candidates: {}", lname, types_list(arg_types),
                      candidates);
  }
  if (cast_to != nullptr) {
    cast_to->clear();
    for (size_t i = 0; i < arg_types.size(); ++i) {
      cast_to->push_back(i < best->arg_types.size() ? best->arg_types[i] : best->arg_types.back());
    }
  }
  return best;
}

bool FunctionRegistry::has(const std::string& name) const {
  const std::string lname = to_lower_ascii(name);
  return std::any_of(functions_.begin(), functions_.end(), [&](const ScalarFunction& f) { return f.name == lname; });
}

std::vector<std::string> FunctionRegistry::names() const {
  std::vector<std::string> out;
  for (const ScalarFunction& fn : functions_) out.push_back(fn.name);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace expr_internal {

const FunctionRegistry& operator_registry() {
  static const FunctionRegistry* registry = [] {
    auto* r = new FunctionRegistry();
    register_operators(*r);
    return r;
  }();
  return *registry;
}

}  // namespace expr_internal

}  // namespace sluice
