// Sluice's SQL types and how PostgreSQL's type names map onto them.
//
//   BOOLEAN                                  -> kBool
//   BIGINT, INT, INTEGER, SMALLINT, INT2/4/8 -> kInt64   (all integers are 64-bit)
//   DOUBLE PRECISION, FLOAT, REAL, FLOAT4/8,
//   NUMERIC, DECIMAL (any precision/scale)   -> kFloat64 (IEEE double; DECIMAL is not exact)
//   TEXT, VARCHAR(n), CHAR(n), STRING        -> kString  (UTF-8, no length limit enforced)
//   TIMESTAMP, TIMESTAMPTZ, DATE             -> kTimestamp (int64 microseconds since epoch, UTC)
//   INTERVAL                                 -> kInterval  (int64 microseconds)
// The mapping is documented in docs/types.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

enum class TypeId : uint8_t { kNull = 0, kBool, kInt64, kFloat64, kString, kTimestamp, kInterval };

// The canonical SQL name: BOOLEAN, BIGINT, DOUBLE, TEXT, TIMESTAMP, INTERVAL (NULL for kNull).
const char* type_name(TypeId type);

// Maps a PostgreSQL/Flink type name (case-insensitive, without modifiers) onto a TypeId.
Result<TypeId> type_from_sql_name(std::string_view name);

// Which physical vector of a Column holds values of this type.
inline bool is_integer_backed(TypeId t) {
  return t == TypeId::kBool || t == TypeId::kInt64 || t == TypeId::kTimestamp ||
         t == TypeId::kInterval || t == TypeId::kNull;
}
inline bool is_numeric(TypeId t) { return t == TypeId::kInt64 || t == TypeId::kFloat64; }

}  // namespace sluice
