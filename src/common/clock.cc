#include "common/clock.h"

#include <chrono>

namespace sluice {

SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

Micros SystemClock::monotonic_micros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Micros SystemClock::unix_micros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice
