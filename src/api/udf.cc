// Registration of C++ scalar functions in the global FunctionRegistry (include/sluice/udf.h).
#include "sluice/udf.h"

#include <fmt/format.h>

#include <mutex>

namespace sluice::api {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// Names the SQL binder handles itself before looking at the function registry.
bool is_reserved(const std::string& name) {
  static const char* kReserved[] = {"count", "sum", "min", "max", "avg", "tumble", "hop", "session", "extract",
                                    "coalesce"};
  for (const char* r : kReserved) {
    if (name == r) return true;
  }
  return false;
}

std::string signature_text(const std::string& name, const std::vector<TypeId>& args, TypeId ret) {
  std::string out;
  for (TypeId t : args) out += (out.empty() ? "" : ", ") + std::string(type_name(t));
  return fmt::format("{}({}) -> {}", name, out, type_name(ret));
}

}  // namespace

Status register_scalar_function(std::string name, std::vector<TypeId> arg_types, TypeId return_type,
                                ScalarKernel kernel) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  name = lower(std::move(name));
  const std::string what = fmt::format("register_scalar_function({})", signature_text(name, arg_types, return_type));
  if (!is_identifier(name)) {
    return invalid_argument("{}: '{}' is not a valid function name (letters, digits and _, not starting with a digit)",
                            what, name);
  }
  if (is_reserved(name)) {
    return invalid_argument("{}: '{}' is a built-in SQL construct and cannot be redefined", what, name);
  }
  if (!kernel) return invalid_argument("{}: no kernel", what);
  if (return_type == TypeId::kNull) return invalid_argument("{}: the return type must not be NULL", what);
  for (TypeId t : arg_types) {
    if (t == TypeId::kNull) return invalid_argument("{}: argument types must not be NULL", what);
  }
  FunctionRegistry& registry = FunctionRegistry::global();
  for (const ScalarFunction* fn : registry.overloads(name)) {
    if (!fn->variadic && fn->arg_types == arg_types) {
      return invalid_argument("{}: function {} already exists", what, FunctionRegistry::signature(*fn));
    }
  }
  ScalarFunction fn;
  fn.name = name;
  fn.arg_types = std::move(arg_types);
  fn.return_type = return_type;
  fn.kernel = std::move(kernel);
  registry.add(std::move(fn));
  return Status::ok();
}

}  // namespace sluice::api
