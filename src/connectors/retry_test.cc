// Specification of the shared retry loop (retry.h), run on a manual clock: no real sleep.
#include "connectors/retry.h"

#include <gtest/gtest.h>

#include <vector>

#include "connectors/test_util.h"

namespace sluice {
namespace {

using ManualClock = testing::ManualRetryClock;

RetryPolicy policy(int attempts, Micros initial, Micros cap, double jitter = 0.0, Micros elapsed = 3600 * kMicrosPerSecond) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.initial_backoff_us = initial;
  p.max_backoff_us = cap;
  p.multiplier = 2.0;
  p.jitter = jitter;
  p.max_elapsed_us = elapsed;
  return p;
}

TEST(RetryTest, ATransientFailureIsRetriedWithExponentialBackoffUntilItSucceeds) {
  ManualClock clock;
  int calls = 0;
  Status s = retry(policy(10, 100, 100'000), "commit", [&] {
    return ++calls < 4 ? unavailable("database is locked") : Status::ok();
  }, clock);
  EXPECT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(clock.sleeps, (std::vector<Micros>{100, 200, 400}));
}

TEST(RetryTest, WaitsAreCappedAtMaxBackoff) {
  ManualClock clock;
  int calls = 0;
  Status s = retry(policy(7, 1000, 3000), "commit", [&] {
    return ++calls < 7 ? unavailable("busy") : Status::ok();
  }, clock);
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(clock.sleeps, (std::vector<Micros>{1000, 2000, 3000, 3000, 3000, 3000}));
}

TEST(RetryTest, GivesUpAfterMaxAttemptsWithTheLastErrorAndItsCount) {
  ManualClock clock;
  int calls = 0;
  Status s = retry(policy(3, 100, 1000), "commit", [&] {
    ++calls;
    return unavailable("connection lost #{}", calls);
  }, clock);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("connection lost #3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("gave up after 3 attempts"), std::string::npos) << s.message();
  EXPECT_EQ(clock.sleeps.size(), 2u);
}

TEST(RetryTest, GivesUpWhenTheNextAttemptWouldStartAfterMaxElapsed) {
  ManualClock clock;
  int calls = 0;
  // Waits 100, 200, 400, 800: the fourth attempt starts at 700 us, the fifth would at 1500.
  Status s = retry(policy(100, 100, 1'000'000, 0.0, /*elapsed=*/1000), "commit", [&] {
    ++calls;
    return unavailable("busy");
  }, clock);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(clock.sleeps, (std::vector<Micros>{100, 200, 400}));
}

TEST(RetryTest, TimeSpentInsideAttemptsCountsTowardsMaxElapsed) {
  ManualClock clock;
  int calls = 0;
  Status s = retry(policy(100, 10, 10, 0.0, /*elapsed=*/1000), "commit", [&] {
    ++calls;
    clock.advance(600);  // a slow attempt (a connect timeout)
    return unavailable("timeout");
  }, clock);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls, 2);
}

TEST(RetryTest, APermanentFailureIsNotRetried) {
  ManualClock clock;
  int calls = 0;
  Status s = retry(policy(5, 100, 1000), "commit", [&] {
    ++calls;
    return Status(StatusCode::kDataLoss, "part 3 is lost");
  }, clock);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "part 3 is lost");  // unchanged
  EXPECT_TRUE(clock.sleeps.empty());
}

TEST(RetryTest, ACallerDecidesWhatIsRetryable) {
  ManualClock clock;
  int calls = 0;
  Status s = retry(policy(5, 100, 1000), "connect", [&] {
    return ++calls < 3 ? io_error("connection refused") : Status::ok();
  }, clock, [](const Status& e) { return e.code() == StatusCode::kIoError; });
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(calls, 3);
}

TEST(RetryTest, OneAttemptPolicyReturnsTheErrorAsItIs) {
  ManualClock clock;
  Status s = retry(RetryPolicy::none(), "commit", [] { return unavailable("busy"); }, clock);
  EXPECT_EQ(s.message(), "busy");
  EXPECT_TRUE(clock.sleeps.empty());
}

TEST(RetryTest, JitterShortensEachWaitByAtMostItsFraction) {
  RetryPolicy p = policy(1000, 1000, 1000, /*jitter=*/0.5);
  Backoff backoff(p, 0, /*seed=*/42);
  bool varied = false;
  Micros first = -1;
  for (int i = 0; i < 200; ++i) {
    auto d = backoff.next_delay(0);
    ASSERT_TRUE(d.has_value());
    EXPECT_GE(*d, 500);
    EXPECT_LE(*d, 1000);
    if (first < 0) first = *d;
    varied = varied || *d != first;
  }
  EXPECT_TRUE(varied);
  // The same seed gives the same waits.
  Backoff a(p, 0, 7), b(p, 0, 7);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_delay(0), b.next_delay(0));
}

TEST(RetryTest, BackoffResetStartsANewSeries) {
  RetryPolicy p = policy(3, 100, 10'000);
  Backoff backoff(p, 0, 1);
  EXPECT_EQ(backoff.next_delay(0), 100);
  EXPECT_EQ(backoff.next_delay(100), 200);
  EXPECT_EQ(backoff.next_delay(300), std::nullopt);  // 3 attempts made
  backoff.reset(5000);
  EXPECT_EQ(backoff.attempts(), 1);
  EXPECT_EQ(backoff.next_delay(5000), 100);
}

TEST(RetryTest, InvalidPoliciesAreRefused) {
  RetryPolicy p;
  EXPECT_TRUE(p.validate().is_ok());
  p.max_attempts = 0;
  EXPECT_EQ(p.validate().code(), StatusCode::kInvalidArgument);
  p = RetryPolicy();
  p.jitter = 1.5;
  EXPECT_EQ(p.validate().code(), StatusCode::kInvalidArgument);
  p = RetryPolicy();
  p.multiplier = 0.5;
  EXPECT_EQ(p.validate().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
