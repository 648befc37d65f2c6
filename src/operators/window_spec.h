// WindowSpec: which event-time windows a timestamp belongs to.
//
//   TUMBLE(size, offset):      [start, start + size) with start = offset + k * size
//   HOP(slide, size, offset):  every [start, start + size) with start = offset + k * slide
//                              that contains ts (size / slide windows when size % slide == 0)
//   SESSION(gap):              a record opens [ts, ts + gap); overlapping or touching sessions
//                              of one key merge (size holds the gap; see SessionAggregate)
// All arithmetic uses floor division so times before the epoch align like later ones.
#pragma once

#include <string>

#include "common/time_util.h"

namespace sluice {

struct WindowSpec {
  enum class Kind { kTumble, kHop, kSession };
  Kind kind = Kind::kTumble;
  Micros size = 0;
  Micros slide = 0;  // == size for tumble
  Micros offset = 0;

  // Start of the latest window containing ts.
  Micros last_start(Micros ts) const { return floor_div(ts - offset, slide) * slide + offset; }
  // Calls fn(start) for every window containing ts, latest first.
  template <typename Fn>
  void for_each_window(Micros ts, Fn&& fn) const {
    for (Micros s = last_start(ts); s > ts - size; s -= slide) fn(s);
  }
  // End of the latest window containing ts (a record is late when this + lateness <= wm).
  Micros max_end(Micros ts) const { return kind == Kind::kSession ? ts + size : last_start(ts) + size; }
  std::string describe() const;
};

}  // namespace sluice
