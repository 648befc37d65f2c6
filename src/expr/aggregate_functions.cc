#include "expr/aggregate_functions.h"

#include <cctype>
#include <mutex>

namespace sluice {

bool is_builtin_aggregate_name(const std::string& n) {
  return n == "count" || n == "sum" || n == "min" || n == "max" || n == "avg" || n == "approx_count_distinct" ||
         n == "approx_percentile" || n == "percentile" || n == "first_value" || n == "last_value" ||
         n == "array_agg" || n == "string_agg" || n == "percentile_cont";
}

AggregateFunctionRegistry& AggregateFunctionRegistry::global() {
  static AggregateFunctionRegistry registry;
  return registry;
}

Status AggregateFunctionRegistry::add(AggregateFunctionDef def) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::string& n = def.name;
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool valid = !n.empty() && (std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_');
  for (char c : n) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!valid) return invalid_argument("aggregate function name '{}' is not a valid SQL identifier", n);
  if (is_builtin_aggregate_name(n)) return invalid_argument("'{}' is a built-in aggregate", n);
  if (find(n)) return invalid_argument("aggregate function '{}' is already registered", n);
  if (!def.create || !def.accumulate || !def.merge || !def.finish) {
    return invalid_argument("aggregate function '{}': create, accumulate, merge and finish are all required", n);
  }
  if (static_cast<bool>(def.serialize) != static_cast<bool>(def.deserialize)) {
    return invalid_argument("aggregate function '{}': serialize and deserialize go together (give both or neither)", n);
  }
  if (def.arg_type == TypeId::kNull || def.return_type == TypeId::kNull) {
    return invalid_argument("aggregate function '{}': argument and return types are required", n);
  }
  functions_.push_back(std::make_unique<AggregateFunctionDef>(std::move(def)));
  return Status::ok();
}

const AggregateFunctionDef* AggregateFunctionRegistry::find(const std::string& name) const {
  for (const auto& f : functions_) {
    if (f->name == name) return f.get();
  }
  return nullptr;
}

}  // namespace sluice
