// ScoringClient against a real HTTP model server on loopback (testing/model_server.h):
// results, micro-batches, retries with backoff (driven by a manual clock), timeouts,
// non-retryable errors, the circuit breaker and its gauge.
#include "scoring/scoring_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "scoring/testing/model_server.h"

namespace sluice {
namespace {

using testing_scoring::ModelServer;

struct Harness {
  MetricsRegistry registry;
  ScoringMetrics metrics{registry, "job", "op", 0};
  std::unique_ptr<ScoringClient> client;
  std::vector<ScoringCall*> done;

  void start(const ScoringClientOptions& o, const Clock& clock = SystemClock::instance()) {
    auto made = ScoringClient::start(o, clock, &metrics, nullptr);
    ASSERT_TRUE(made.is_ok()) << made.status().message();
    client = std::move(made).value();
  }
  // Waits (real time) until `n` calls completed in all.
  bool wait_for(size_t n, int timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (done.size() < n && std::chrono::steady_clock::now() < deadline) {
      client->wait_completed(10'000);
      client->take_completed(&done);
    }
    return done.size() >= n;
  }
};

ScoringClientOptions options_for(const ModelServer& server) {
  ScoringClientOptions o;
  o.url = server.url();
  o.timeout_us = 2 * kMicrosPerSecond;
  o.retry.jitter = 0;
  return o;
}

TEST(ScoringClientTest, ReturnsTheResponseOfASuccessfulCall) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  Harness h;
  h.start(options_for(server));
  ScoringCall call;
  call.body = R"({"id": 7, "amount": 500})";
  h.client->submit(&call);
  ASSERT_TRUE(h.wait_for(1));
  EXPECT_TRUE(call.ok) << call.error;
  EXPECT_EQ(call.response, R"({"id":7,"model_version":"v1","score":0.25})");
  EXPECT_EQ(call.attempts, 1);
  EXPECT_EQ(h.metrics.calls->value(), 1u);
  EXPECT_EQ(h.metrics.call_latency_us->count(), 1u);
  EXPECT_EQ(h.metrics.in_flight->value(), 0);
}

TEST(ScoringClientTest, SplitsAMicroBatchResponseIntoOneResultPerRow) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  Harness h;
  h.start(options_for(server));
  ScoringCall call;
  call.body = R"([{"id": 1, "amount": 2000}, {"id": 2}])";
  call.rows = 2;
  call.batched = true;
  h.client->submit(&call);
  ASSERT_TRUE(h.wait_for(1));
  ASSERT_TRUE(call.ok) << call.error;
  ASSERT_EQ(call.result_offsets.size(), 3u);
  std::string_view all(call.results_chars);
  EXPECT_EQ(all.substr(0, call.result_offsets[1]), R"({"id":1,"model_version":"v1","score":1.0})");
  EXPECT_EQ(all.substr(call.result_offsets[1]), R"({"id":2,"model_version":"v1","score":0.0})");
}

TEST(ScoringClientTest, AMicroBatchAnsweredWithTheWrongCountFails) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  Harness h;
  h.start(options_for(server));
  ScoringCall call;
  call.body = R"([{"id": 1}])";
  call.rows = 2;  // the server answers one result
  call.batched = true;
  h.client->submit(&call);
  ASSERT_TRUE(h.wait_for(1));
  EXPECT_FALSE(call.ok);
  EXPECT_EQ(call.failure, ScoringFailure::kBadResponse);
}

TEST(ScoringClientTest, RetriesTransientFailuresAfterTheBackoffOfTheInjectedClock) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.fail_first = 2;
  ManualClock clock;
  Harness h;
  ScoringClientOptions o = options_for(server);
  o.retry.max_attempts = 3;
  o.retry.initial_backoff_us = 100 * kMicrosPerMilli;
  o.retry.multiplier = 2;
  o.timeout_us = 10 * kMicrosPerSecond;
  h.start(o, clock);
  ScoringCall call;
  call.body = R"({"id": 1})";
  h.client->submit(&call);
  auto wait_requests = [&](int n) {
    for (int i = 0; i < 500 && server.requests.load() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return server.requests.load();
  };
  ASSERT_EQ(wait_requests(1), 1);
  // The retry waits for the backoff on the injected clock: nothing happens in real time.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(server.requests.load(), 1);
  clock.advance(99 * kMicrosPerMilli);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_EQ(server.requests.load(), 1);
  clock.advance(1 * kMicrosPerMilli);  // 100 ms: the second attempt
  ASSERT_EQ(wait_requests(2), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  clock.advance(199 * kMicrosPerMilli);  // the second wait doubles: 200 ms
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_EQ(server.requests.load(), 2);
  clock.advance(1 * kMicrosPerMilli);
  ASSERT_TRUE(h.wait_for(1));
  EXPECT_TRUE(call.ok) << call.error;
  EXPECT_EQ(call.attempts, 3);
  EXPECT_EQ(h.metrics.retries->value(), 2u);
  EXPECT_EQ(h.metrics.failures->value(), 2u);
}

TEST(ScoringClientTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.fail_status = 503;
  Harness h;
  ScoringClientOptions o = options_for(server);
  o.retry.max_attempts = 2;
  o.retry.initial_backoff_us = 1 * kMicrosPerMilli;
  o.breaker.failure_threshold = 100;
  h.start(o);
  ScoringCall call;
  call.body = "{}";
  h.client->submit(&call);
  ASSERT_TRUE(h.wait_for(1));
  EXPECT_FALSE(call.ok);
  EXPECT_EQ(call.failure, ScoringFailure::kHttpStatus);
  EXPECT_EQ(call.error, "HTTP 503");
  EXPECT_EQ(call.attempts, 2);
}

TEST(ScoringClientTest, ClientErrorsAreNotRetried) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.fail_status = 400;
  Harness h;
  h.start(options_for(server));
  ScoringCall call;
  call.body = "{}";
  h.client->submit(&call);
  ASSERT_TRUE(h.wait_for(1));
  EXPECT_FALSE(call.ok);
  EXPECT_EQ(call.attempts, 1);
  EXPECT_EQ(server.requests.load(), 1);
}

TEST(ScoringClientTest, ASlowServerTimesOutAtTheCallDeadline) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.delay_ms = 1000;
  Harness h;
  ScoringClientOptions o = options_for(server);
  o.timeout_us = 100 * kMicrosPerMilli;
  h.start(o);
  ScoringCall call;
  call.body = "{}";
  const auto start = std::chrono::steady_clock::now();
  h.client->submit(&call);
  ASSERT_TRUE(h.wait_for(1));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_FALSE(call.ok);
  EXPECT_EQ(call.failure, ScoringFailure::kTimeout);
  EXPECT_LT(took.count(), 800);
  EXPECT_EQ(h.metrics.timeouts->value(), 1u);
}

TEST(ScoringClientTest, TheBreakerOpensAfterConsecutiveFailuresAndShortCircuitsCalls) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.fail_status = 500;
  Harness h;
  ScoringClientOptions o = options_for(server);
  o.retry.max_attempts = 1;
  o.breaker.failure_threshold = 2;
  o.breaker.open_cooldown_us = 60 * kMicrosPerSecond;
  h.start(o);
  ScoringCall calls[3];
  for (auto& c : calls) {
    c.body = "{}";
    h.client->submit(&c);
    ASSERT_TRUE(h.wait_for(static_cast<size_t>(&c - calls) + 1));
  }
  EXPECT_EQ(calls[0].failure, ScoringFailure::kHttpStatus);
  EXPECT_EQ(calls[1].failure, ScoringFailure::kHttpStatus);
  EXPECT_EQ(calls[2].failure, ScoringFailure::kCircuitOpen);
  EXPECT_EQ(server.requests.load(), 2);
  EXPECT_EQ(h.client->circuit_state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(h.metrics.circuit_state->value(), 1);
  EXPECT_EQ(h.metrics.short_circuited->value(), 1u);
}

TEST(ScoringClientTest, AStoppedServerIsAConnectionFailure) {
  auto server = std::make_unique<ModelServer>();
  ASSERT_GT(server->start(), 0);
  ScoringClientOptions o = options_for(*server);
  server->stop();
  server.reset();
  o.retry.max_attempts = 1;
  Harness h;
  h.start(o);
  ScoringCall call;
  call.body = "{}";
  h.client->submit(&call);
  ASSERT_TRUE(h.wait_for(1));
  EXPECT_FALSE(call.ok);
  EXPECT_EQ(call.failure, ScoringFailure::kConnection);
}

TEST(ScoringClientTest, RefusesAUrlThatIsNotHttp) {
  MetricsRegistry registry;
  ScoringMetrics metrics(registry, "job", "op", 0);
  ScoringClientOptions o;
  o.url = "ftp://x";
  EXPECT_FALSE(ScoringClient::start(o, SystemClock::instance(), &metrics, nullptr).is_ok());
}

}  // namespace
}  // namespace sluice
