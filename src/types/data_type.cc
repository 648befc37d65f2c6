#include "types/data_type.h"

#include <cctype>

namespace sluice {

const char* type_name(TypeId type) {
  switch (type) {
    case TypeId::kNull: return "NULL";
    case TypeId::kBool: return "BOOLEAN";
    case TypeId::kInt64: return "BIGINT";
    case TypeId::kFloat64: return "DOUBLE";
    case TypeId::kString: return "TEXT";
    case TypeId::kTimestamp: return "TIMESTAMP";
    case TypeId::kInterval: return "INTERVAL";
  }
  return "?";
}

Result<TypeId> type_from_sql_name(std::string_view name) {
  std::string n;
  for (char c : name) n.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (n == "bool" || n == "boolean") return TypeId::kBool;
  if (n == "int" || n == "int2" || n == "int4" || n == "int8" || n == "integer" || n == "bigint" ||
      n == "smallint" || n == "tinyint" || n == "serial" || n == "bigserial")
    return TypeId::kInt64;
  if (n == "float" || n == "float4" || n == "float8" || n == "real" || n == "double" ||
      n == "double precision" || n == "numeric" || n == "decimal")
    return TypeId::kFloat64;
  if (n == "text" || n == "varchar" || n == "char" || n == "bpchar" || n == "string" ||
      n == "character varying" || n == "character")
    return TypeId::kString;
  if (n == "timestamp" || n == "timestamptz" || n == "date" || n == "timestamp_ltz" ||
      n == "timestamp with time zone" || n == "timestamp without time zone")
    return TypeId::kTimestamp;
  if (n == "interval") return TypeId::kInterval;
  return unsupported("unknown type '{}' (supported: BOOLEAN, BIGINT/INT/INTEGER/SMALLINT, "
                     "DOUBLE PRECISION/REAL/NUMERIC/DECIMAL, TEXT/VARCHAR, TIMESTAMP/TIMESTAMPTZ, "
                     "INTERVAL)",
                     name);
}

}  // namespace sluice
