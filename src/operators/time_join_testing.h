// Test and benchmark support for the time-bounded joins (time_join_test.cc,
// bench/time_join_benchmark.cc): the input schema [k, v, ts] (window-join inputs add
// [window_start, window_end]) and the join's output schema (both sides, all nullable).
#pragma once

#include <vector>

#include "types/schema.h"

namespace sluice::time_join_testing {

inline SchemaPtr side_schema(bool windowed) {
  std::vector<Field> f = {{"k", TypeId::kInt64, true}, {"v", TypeId::kInt64, true}, {"ts", TypeId::kTimestamp, true}};
  if (windowed) {
    f.push_back({"window_start", TypeId::kTimestamp, false});
    f.push_back({"window_end", TypeId::kTimestamp, false});
  }
  return make_schema(f);
}

inline SchemaPtr output_schema(bool windowed) {
  std::vector<Field> f;
  const SchemaPtr side = side_schema(windowed);
  for (int i = 0; i < 2; ++i) {
    for (const Field& x : side->fields()) f.push_back({x.name, x.type, true});
  }
  return make_schema(f);
}

}  // namespace sluice::time_join_testing
