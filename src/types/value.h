// Value: one scalar of any Sluice type. Used for literals, options and slow paths
// (never per record on a hot path).
#pragma once

#include <cstdint>
#include <string>

#include "types/data_type.h"

namespace sluice {

struct Value {
  TypeId type = TypeId::kNull;
  bool is_null = true;
  int64_t i = 0;  // kBool, kInt64, kTimestamp, kInterval
  double d = 0;   // kFloat64
  std::string s;  // kString

  static Value null(TypeId t = TypeId::kNull) { return Value{t, true, 0, 0, {}}; }
  static Value boolean(bool b) { return Value{TypeId::kBool, false, b ? 1 : 0, 0, {}}; }
  static Value int64(int64_t v) { return Value{TypeId::kInt64, false, v, 0, {}}; }
  static Value float64(double v) { return Value{TypeId::kFloat64, false, 0, v, {}}; }
  static Value string(std::string v) { return Value{TypeId::kString, false, 0, 0, std::move(v)}; }
  static Value timestamp(int64_t us) { return Value{TypeId::kTimestamp, false, us, 0, {}}; }
  static Value interval(int64_t us) { return Value{TypeId::kInterval, false, us, 0, {}}; }
  std::string to_string() const;
};

}  // namespace sluice
