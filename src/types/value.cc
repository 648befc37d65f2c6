#include "types/value.h"

#include <fmt/format.h>

#include "common/time_util.h"

namespace sluice {

std::string Value::to_string() const {
  if (is_null) return "NULL";
  switch (type) {
    case TypeId::kBool: return i ? "true" : "false";
    case TypeId::kInt64: return std::to_string(i);
    case TypeId::kFloat64: return fmt::format("{}", d);
    case TypeId::kString: return s;
    case TypeId::kTimestamp: return format_timestamp(i);
    case TypeId::kInterval: return format_duration(i);
    case TypeId::kNull: return "NULL";
  }
  return "?";
}

}  // namespace sluice
