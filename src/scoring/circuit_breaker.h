// CircuitBreaker: stops calling a model server that keeps failing, and probes it again
// after a cool-down (the closed / open / half-open breaker of Nygard's "Release It!",
// resilience4j and Hystrix).
//
//   closed     every attempt may start; `failure_threshold` consecutive failed attempts
//              open it (a success resets the count)
//   open       no attempt starts (calls fail at once with "circuit open") until
//              `open_cooldown_us` has passed since it opened
//   half-open  up to `half_open_probes` attempts (probes) may be in flight; a probe that
//              succeeds closes it, one that fails opens it again for another cool-down
//
// Time comes from an injected Clock (tests use a ManualClock). Not thread-safe: one owner
// thread (the scoring client's I/O thread) calls everything; state() may be mirrored into a
// gauge by that thread.
#pragma once

#include <cstdint>

#include "common/clock.h"
#include "common/status.h"

namespace sluice {

struct CircuitBreakerOptions {
  int failure_threshold = 5;                    // consecutive failed attempts that open it (>= 1)
  Micros open_cooldown_us = 5 * kMicrosPerSecond;  // open -> half-open after this long
  int half_open_probes = 1;                     // attempts at once while half-open (>= 1)
  Status validate() const;
};

class CircuitBreaker {
 public:
  // The values are those of the sluice_scoring_circuit_state gauge.
  enum class State : int { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

  CircuitBreaker(const CircuitBreakerOptions& options, const Clock& clock);

  // Whether an attempt may start now. Moves open -> half-open when the cool-down has
  // passed; in half-open, takes one of the probe slots (returned by on_success/on_failure).
  bool try_acquire();
  // The outcome of an attempt that try_acquire() let start.
  void on_success();
  void on_failure();

  State state() const { return state_; }
  uint64_t times_opened() const { return times_opened_; }

 private:
  void open();

  CircuitBreakerOptions options_;
  const Clock& clock_;
  State state_ = State::kClosed;
  int consecutive_failures_ = 0;
  int probes_in_flight_ = 0;
  Micros opened_at_ = 0;
  uint64_t times_opened_ = 0;
};

const char* circuit_state_name(CircuitBreaker::State state);  // "closed", "open", "half-open"

}  // namespace sluice
