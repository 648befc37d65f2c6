// The circuit breaker's states and transitions, driven by a manual clock.
#include "scoring/circuit_breaker.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using State = CircuitBreaker::State;

CircuitBreakerOptions options(int threshold, Micros cooldown_us, int probes = 1) {
  CircuitBreakerOptions o;
  o.failure_threshold = threshold;
  o.open_cooldown_us = cooldown_us;
  o.half_open_probes = probes;
  return o;
}

TEST(CircuitBreakerTest, StaysClosedBelowTheThresholdOfConsecutiveFailures) {
  ManualClock clock;
  CircuitBreaker b(options(3, kMicrosPerSecond), clock);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.try_acquire());
    b.on_failure();
  }
  EXPECT_EQ(b.state(), State::kClosed);
  // A success resets the count: two more failures do not open it.
  ASSERT_TRUE(b.try_acquire());
  b.on_success();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.try_acquire());
    b.on_failure();
  }
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_EQ(b.times_opened(), 0u);
}

TEST(CircuitBreakerTest, OpensAfterThresholdFailuresAndRefusesUntilTheCooldownPassed) {
  ManualClock clock;
  CircuitBreaker b(options(3, kMicrosPerSecond), clock);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(b.try_acquire());
    b.on_failure();
  }
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_EQ(b.times_opened(), 1u);
  EXPECT_FALSE(b.try_acquire());
  clock.advance(kMicrosPerSecond - 1);
  EXPECT_FALSE(b.try_acquire());
  EXPECT_EQ(b.state(), State::kOpen);
}

TEST(CircuitBreakerTest, HalfOpenAllowsOneProbeAndClosesOnItsSuccess) {
  ManualClock clock;
  CircuitBreaker b(options(1, kMicrosPerSecond), clock);
  ASSERT_TRUE(b.try_acquire());
  b.on_failure();
  ASSERT_EQ(b.state(), State::kOpen);
  clock.advance(kMicrosPerSecond);
  EXPECT_TRUE(b.try_acquire());  // the probe
  EXPECT_EQ(b.state(), State::kHalfOpen);
  EXPECT_FALSE(b.try_acquire());  // only one probe at a time
  b.on_success();
  EXPECT_EQ(b.state(), State::kClosed);
  EXPECT_TRUE(b.try_acquire());
  EXPECT_TRUE(b.try_acquire());
}

TEST(CircuitBreakerTest, AFailedProbeOpensItForAnotherFullCooldown) {
  ManualClock clock;
  CircuitBreaker b(options(2, 500 * kMicrosPerMilli), clock);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(b.try_acquire());
    b.on_failure();
  }
  clock.advance(500 * kMicrosPerMilli);
  ASSERT_TRUE(b.try_acquire());
  b.on_failure();
  EXPECT_EQ(b.state(), State::kOpen);
  EXPECT_EQ(b.times_opened(), 2u);
  clock.advance(499 * kMicrosPerMilli);
  EXPECT_FALSE(b.try_acquire());
  clock.advance(1 * kMicrosPerMilli);
  EXPECT_TRUE(b.try_acquire());
  EXPECT_EQ(b.state(), State::kHalfOpen);
}

TEST(CircuitBreakerTest, SeveralProbesWhenConfigured) {
  ManualClock clock;
  CircuitBreaker b(options(1, 0, 2), clock);
  ASSERT_TRUE(b.try_acquire());
  b.on_failure();
  EXPECT_TRUE(b.try_acquire());
  EXPECT_TRUE(b.try_acquire());
  EXPECT_FALSE(b.try_acquire());
}

TEST(CircuitBreakerTest, AttemptsStartedBeforeItOpenedDoNotCloseIt) {
  ManualClock clock;
  CircuitBreaker b(options(1, kMicrosPerSecond), clock);
  ASSERT_TRUE(b.try_acquire());
  ASSERT_TRUE(b.try_acquire());
  b.on_failure();
  b.on_success();  // the second attempt, started while closed, answers late
  EXPECT_EQ(b.state(), State::kOpen);
}

TEST(CircuitBreakerTest, OptionsAreValidated) {
  EXPECT_FALSE(options(0, 1).validate().is_ok());
  EXPECT_FALSE(options(1, -1).validate().is_ok());
  EXPECT_FALSE(options(1, 1, 0).validate().is_ok());
  EXPECT_TRUE(options(1, 0).validate().is_ok());
}

}  // namespace
}  // namespace sluice
