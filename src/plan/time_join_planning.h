// Recognizing time-bounded joins in a logical join (LogicalNode::Kind::kJoin), for the
// physical planner: which joins become an interval join or a window join
// (operators/time_join.h) instead of the regular join. Pure functions of the logical plan
// (both front ends reach them through the planner).
//
//  - Interval join: the condition's top-level conjuncts bound the difference of two event-
//    time columns, one of each input: `r.ts BETWEEN l.ts - X AND l.ts + Y`, `l.ts = r.ts`
//    (also as a join key), `<`, `<=`, `>`, `>=` with `col [+|-] constant interval` on
//    either hand. At least one bound is needed; with one only, the rows of the other side
//    stay until the end of the input.
//  - Window join: both inputs are windowed by the same TUMBLE or HOP (a window table
//    function, or a windowed aggregation with window_start/window_end kept as plain
//    columns), and the join keys equate both window_start and window_end.
// Whether the inputs are append-only, and which of their columns are event time, is the
// planner's knowledge: it passes the candidate time columns.
#pragma once

#include <optional>
#include <vector>

#include "plan/logical_plan.h"

namespace sluice {

struct IntervalBounds {
  int left_time = -1;   // column of the left input
  int right_time = -1;  // column of the right input
  Micros lower = kMinWatermark;  // right.time - left.time >= lower (kMinWatermark: open)
  Micros upper = kMaxWatermark;  // right.time - left.time <= upper (kMaxWatermark: open)
};

// The bounds the join's condition and keys put on (left time, right time) for the first
// candidate pair with both bounds (else the first with one). `left_times` / `right_times`:
// event-time columns of each input.
std::optional<IntervalBounds> find_interval_bounds(const LogicalNode& join, const std::vector<int>& left_times,
                                                   const std::vector<int>& right_times);

struct WindowJoinShape {
  WindowSpec window;
  int left_window_start = -1;  // columns of the left input
  int left_window_end = -1;
  int right_window_start = -1;  // columns of the right input
  int right_window_end = -1;
  bool left_tvf = false;      // the left input is windowed by a table function (rows), not an aggregation
  bool right_tvf = false;
};

// The window join shape of `join`, if it has one.
std::optional<WindowJoinShape> find_window_join(const LogicalNode& join);

}  // namespace sluice
