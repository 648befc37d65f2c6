#include "scoring/circuit_breaker.h"

namespace sluice {

Status CircuitBreakerOptions::validate() const {
  if (failure_threshold < 1) return invalid_argument("circuit breaker: failure threshold must be at least 1");
  if (open_cooldown_us < 0) return invalid_argument("circuit breaker: cool-down must not be negative");
  if (half_open_probes < 1) return invalid_argument("circuit breaker: half-open probes must be at least 1");
  return Status::ok();
}

CircuitBreaker::CircuitBreaker(const CircuitBreakerOptions& options, const Clock& clock)
    : options_(options), clock_(clock) {}

bool CircuitBreaker::try_acquire() {
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (clock_.monotonic_micros() - opened_at_ < options_.open_cooldown_us) return false;
      state_ = State::kHalfOpen;
      probes_in_flight_ = 0;
      [[fallthrough]];
    case State::kHalfOpen:
      if (probes_in_flight_ >= options_.half_open_probes) return false;
      ++probes_in_flight_;
      return true;
  }
  return false;
}

void CircuitBreaker::on_success() {
  switch (state_) {
    case State::kClosed:
      consecutive_failures_ = 0;
      break;
    case State::kHalfOpen:
      // The server answers again: calls flow freely.
      state_ = State::kClosed;
      consecutive_failures_ = 0;
      probes_in_flight_ = 0;
      break;
    case State::kOpen:
      break;  // an attempt started before it opened: the cool-down still decides
  }
}

void CircuitBreaker::on_failure() {
  switch (state_) {
    case State::kClosed:
      if (++consecutive_failures_ >= options_.failure_threshold) open();
      break;
    case State::kHalfOpen:
      open();  // the probe failed: another full cool-down
      break;
    case State::kOpen:
      break;
  }
}

void CircuitBreaker::open() {
  state_ = State::kOpen;
  opened_at_ = clock_.monotonic_micros();
  consecutive_failures_ = 0;
  probes_in_flight_ = 0;
  ++times_opened_;
}

const char* circuit_state_name(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half-open";
  }
  return "?";
}

}  // namespace sluice
