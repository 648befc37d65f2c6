// Retry with bounded exponential backoff and jitter: the one retry loop of every connector
// (a sink commit that finds its database locked, a lost broker or server connection, a
// source that reconnects). Connectors never write their own sleep loops.
//
// A RetryPolicy says how often and for how long. Attempt 1 runs at once; after failed
// attempt n the loop waits min(max_backoff_us, initial_backoff_us * multiplier^(n-1)),
// shortened by a random fraction of at most `jitter` (so that many tasks retrying one server
// do not retry in lockstep). It gives up after max_attempts attempts, or when the next
// attempt would start later than max_elapsed_us after the first one began. Only failures
// that the `retryable` predicate accepts are retried (default: kUnavailable, a transient
// condition); any other failure ends the loop at once, unchanged.
//
// Two ways to use it:
//   - retry(policy, what, attempt): runs `attempt` until it succeeds or the policy gives up,
//     sleeping in between through a RetryClock (tests pass a manual clock: no real sleep);
//   - Backoff: the state of one series of retries, for a loop that must not block (a
//     source polling between reconnects): next_delay() after each failure, reset() after a
//     success.
// Thread-safety: RetryPolicy is a plain value; a Backoff and a retry() call belong to the
// calling thread; system_retry_clock() may be used from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "common/status.h"
#include "common/time_util.h"

namespace sluice {

struct RetryPolicy {
  int max_attempts = 6;                              // attempts in all, the first included; 1 = no retry
  Micros initial_backoff_us = 100 * kMicrosPerMilli;  // wait after the first failure
  Micros max_backoff_us = 5 * kMicrosPerSecond;      // cap on one wait
  double multiplier = 2.0;                           // growth of the wait per failure (>= 1)
  double jitter = 0.5;                               // each wait shortened by a random fraction in [0, jitter]
  Micros max_elapsed_us = 30 * kMicrosPerSecond;     // no attempt starts later than this after the first

  // A policy that never retries (one attempt).
  static RetryPolicy none() {
    RetryPolicy p;
    p.max_attempts = 1;
    return p;
  }
  // kInvalidArgument naming the bad field (attempts < 1, negative times, multiplier < 1,
  // jitter outside [0, 1]).
  Status validate() const;
};

// Time as a retry loop sees it: a monotonic now() and sleep. Tests inject a manual clock.
class RetryClock {
 public:
  virtual ~RetryClock() = default;
  virtual Micros now() = 0;
  virtual void sleep_for(Micros duration) = 0;
};

// steady_clock and std::this_thread::sleep_for.
RetryClock& system_retry_clock();

// The default `retryable`: a transient failure (StatusCode::kUnavailable).
bool is_transient(const Status& status);

// The waits of one series of retries.
class Backoff {
 public:
  // `start`: when the first attempt began (the clock's now()); `seed` makes the jitter
  // reproducible (tests); 0 picks a different seed per Backoff.
  Backoff(const RetryPolicy& policy, Micros start, uint64_t seed = 0);

  // Called after a failed attempt at time `now`: the wait before the next attempt, or
  // nullopt when the policy gives up (max_attempts reached, or the next attempt would begin
  // after start + max_elapsed_us).
  std::optional<Micros> next_delay(Micros now);

  // A success: the next failure starts a new series at `now`.
  void reset(Micros now);

  int attempts() const { return attempts_; }  // attempts made (failed ones counted so far)
  Micros start() const { return start_; }

 private:
  RetryPolicy policy_;
  Micros start_;
  int attempts_ = 1;     // the attempt in flight when the series starts
  uint64_t rng_state_;
};

// Runs `attempt` until it succeeds, fails with an error `retryable` rejects (returned as
// is), or the policy gives up: then the last error, its message extended with how many
// attempts were made over how long. Each retry is logged as a warning naming `what`.
Status retry(const RetryPolicy& policy, std::string_view what, const std::function<Status()>& attempt,
             RetryClock& clock = system_retry_clock(),
             const std::function<bool(const Status&)>& retryable = is_transient);

}  // namespace sluice
