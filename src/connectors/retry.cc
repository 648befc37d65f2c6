#include "connectors/retry.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "common/logging.h"

namespace sluice {
namespace {

class SystemRetryClock : public RetryClock {
 public:
  Micros now() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void sleep_for(Micros duration) override {
    if (duration > 0) std::this_thread::sleep_for(std::chrono::microseconds(duration));
  }
};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A different seed per Backoff when none is given: the jitter's purpose is that tasks
// retrying at the same time drift apart.
uint64_t fresh_seed() {
  static std::atomic<uint64_t> counter{0};
  const auto ticks = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return ticks ^ (counter.fetch_add(1, std::memory_order_relaxed) * 0x9e3779b97f4a7c15ULL);
}

std::string format_micros(Micros us) {
  if (us < kMicrosPerMilli) return fmt::format("{} us", us);
  if (us < kMicrosPerSecond) return fmt::format("{} ms", us / kMicrosPerMilli);
  return fmt::format("{:.1f} s", static_cast<double>(us) / kMicrosPerSecond);
}

}  // namespace

Status RetryPolicy::validate() const {
  if (max_attempts < 1) return invalid_argument("retry policy: max_attempts must be at least 1, got {}", max_attempts);
  if (initial_backoff_us < 0 || max_backoff_us < 0 || max_elapsed_us < 0) {
    return invalid_argument("retry policy: backoff and elapsed times must not be negative");
  }
  if (!(multiplier >= 1.0)) return invalid_argument("retry policy: multiplier must be at least 1, got {}", multiplier);
  if (!(jitter >= 0.0 && jitter <= 1.0)) {
    return invalid_argument("retry policy: jitter must be between 0 and 1, got {}", jitter);
  }
  return Status::ok();
}

RetryClock& system_retry_clock() {
  static SystemRetryClock clock;
  return clock;
}

bool is_transient(const Status& status) { return status.code() == StatusCode::kUnavailable; }

Backoff::Backoff(const RetryPolicy& policy, Micros start, uint64_t seed)
    : policy_(policy), start_(start), rng_state_(seed != 0 ? seed : fresh_seed()) {}

std::optional<Micros> Backoff::next_delay(Micros now) {
  if (attempts_ >= policy_.max_attempts) return std::nullopt;
  // initial * multiplier^(failures - 1), capped; computed in double so that it cannot overflow.
  const double grown = static_cast<double>(policy_.initial_backoff_us) *
                       std::pow(policy_.multiplier, static_cast<double>(attempts_ - 1));
  const double capped = std::min(grown, static_cast<double>(policy_.max_backoff_us));
  // Uniform in [0, 1) from the top 53 bits.
  const double u = static_cast<double>(splitmix64(rng_state_) >> 11) * 0x1.0p-53;
  const auto delay = static_cast<Micros>(capped * (1.0 - policy_.jitter * u));
  if (now + delay - start_ > policy_.max_elapsed_us) return std::nullopt;
  ++attempts_;
  return delay;
}

void Backoff::reset(Micros now) {
  start_ = now;
  attempts_ = 1;
}

Status retry(const RetryPolicy& policy, std::string_view what, const std::function<Status()>& attempt,
             RetryClock& clock, const std::function<bool(const Status&)>& retryable) {
  Backoff backoff(policy, clock.now());
  while (true) {
    Status s = attempt();
    if (s.is_ok() || !retryable(s)) return s;
    std::optional<Micros> delay = backoff.next_delay(clock.now());
    if (!delay) {
      if (backoff.attempts() == 1) return s;  // the policy does not retry: the error as it is
      return Status(s.code(), fmt::format("{} (gave up after {} attempts in {})", s.message(), backoff.attempts(),
                                          format_micros(clock.now() - backoff.start())));
    }
    log_warn("{}: {}; attempt {} of {} in {}", what, s.message(), backoff.attempts(), policy.max_attempts,
             format_micros(*delay));
    clock.sleep_for(*delay);
  }
}

}  // namespace sluice
