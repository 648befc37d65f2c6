// WindowSpec: which event-time windows a timestamp belongs to.
//
//   TUMBLE(size, offset):      [start, start + size) with start = offset + k * size
//   HOP(slide, size, offset):  every [start, start + size) with start = offset + k * slide
//                              that contains ts (size / slide windows when size % slide == 0)
//   SESSION(gap):              a record opens [ts, ts + gap); overlapping or touching sessions
//                              of one key merge (size holds the gap; see SessionAggregate)
// All arithmetic uses floor division so times before the epoch align like later ones.
//
// validate() is called by every front end (SQL binder, C++ API) when a window is defined:
// a row belongs to at most kMaxWindowsPerRow windows (HOP size / slide), sizes, slides,
// gaps and offsets are positive (offsets any sign) and at most kMaxWindowDuration, so a
// definition can neither exhaust memory nor overflow time arithmetic.
#pragma once

#include <string>

#include "common/status.h"
#include "common/time_util.h"

namespace sluice {

// Each window a row belongs to costs state and work per row: HOP(slide 1 s, size 1 day) is
// 86,400 windows per row. 10,000 keeps a day of 10-second slides.
inline constexpr int64_t kMaxWindowsPerRow = 10000;
// Sizes, slides, gaps and offsets beyond 100 years are mistakes, and keep window bounds far
// from overflowing 64-bit microseconds.
inline constexpr Micros kMaxWindowDuration = 36525LL * 24 * 3600 * kMicrosPerSecond;

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
  // An error naming what is wrong with the definition (see the top comment), or ok.
  Status validate() const;
  // Windows a row belongs to: ceil(size / slide) for HOP, 1 otherwise.
  int64_t windows_per_row() const { return kind == Kind::kHop ? (size + slide - 1) / slide : 1; }
};

}  // namespace sluice
