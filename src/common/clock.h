// Clock: the source of processing time, injected so that timeouts and intervals are
// testable. Production code uses SystemClock::instance(); tests pass a ManualClock and move
// time forward themselves, so an idle timeout, a sink's flush interval or a checkpoint
// interval fires exactly when the test says, without sleeping.
//
// Users: the source loop (idle timeout, the processing time max_future_skew compares
// with), the sink operator (flush interval), the checkpoint coordinator (interval, duration,
// completion time). Waiting itself (condition variables, poll timeouts) stays on real
// time: a manual clock decides when something is due, not how long a thread sleeps.
//
// Threads: every method is thread-safe; a ManualClock may be advanced from any thread.
#pragma once

#include <atomic>

#include "common/time_util.h"

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time (arbitrary origin): measure durations and deadlines with it.
  virtual Micros monotonic_micros() const = 0;
  // Wall-clock time since the Unix epoch (UTC): timestamps and processing time.
  virtual Micros unix_micros() const = 0;
};

// std::chrono::steady_clock and std::chrono::system_clock.
class SystemClock final : public Clock {
 public:
  static SystemClock& instance();
  Micros monotonic_micros() const override;
  Micros unix_micros() const override;
};

// Time stands still until advance() moves both clocks forward.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros unix_start = 1'700'000'000LL * kMicrosPerSecond) : unix_(unix_start) {}
  Micros monotonic_micros() const override { return monotonic_.load(std::memory_order_acquire); }
  Micros unix_micros() const override { return unix_.load(std::memory_order_acquire); }
  void advance(Micros delta) {
    monotonic_.fetch_add(delta, std::memory_order_acq_rel);
    unix_.fetch_add(delta, std::memory_order_acq_rel);
  }

 private:
  std::atomic<Micros> monotonic_{0};
  std::atomic<Micros> unix_;
};

}  // namespace sluice
