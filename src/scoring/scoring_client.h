// ScoringClient: asynchronous HTTP/JSON calls to a model server, for the scoring operator
// (scoring_operator.h): a concurrency limit is the caller's (it submits at most its limit),
// everything else is here: a per-call deadline covering every attempt, retries with
// exponential backoff and jitter (connectors/retry.h's Backoff), a circuit breaker
// (circuit_breaker.h), keep-alive connections, and the call metrics.
//
// One I/O thread per client runs libcurl's multi interface: every request in flight on one
// thread, no thread per request. The caller submits ScoringCall objects it owns (a request
// body, the rows it covers) and takes back completed ones (take_completed); `on_complete`
// runs on the I/O thread after each completion (the operator wakes its task with it).
//
// A call succeeds on a 2xx response. For a call covering several rows (micro-batch,
// `rows` > 1) the body sent is a JSON array and the response must be a JSON array of as
// many results; each result's JSON text is kept (ScoringCall::results). Transient failures
// are retried while the deadline allows: connection errors, timeouts of an attempt,
// 429 and 5xx. Other 4xx and malformed responses fail at once. The breaker counts failed
// attempts; while it is open a call fails at once with reason "circuit_open".
//
// Lifecycle: start() -> submit()* / take_completed()* -> destructor (stops the thread;
// calls still in flight are abandoned: the caller must not use them as completed).
// Threads: submit(), take_completed() and the destructor from the owner's thread;
// on_complete on the I/O thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "connectors/retry.h"
#include "metrics/registry.h"
#include "scoring/circuit_breaker.h"

namespace sluice {

struct ScoringClientOptions {
  std::string url;                                // http://host:port/path (POST)
  Micros timeout_us = 200 * kMicrosPerMilli;      // per call, every attempt and backoff included
  RetryPolicy retry = [] {                        // attempts and backoff within the deadline
    RetryPolicy p;
    p.max_attempts = 3;
    p.initial_backoff_us = 5 * kMicrosPerMilli;
    p.max_backoff_us = 1 * kMicrosPerSecond;
    return p;
  }();
  CircuitBreakerOptions breaker;
  int max_connections = 64;  // connections to the server at once (keep-alive, reused)
};

// Why a call failed (the `reason` of a dead-letter entry, the fallback counters).
enum class ScoringFailure { kNone, kTimeout, kHttpStatus, kConnection, kBadResponse, kCircuitOpen };
const char* scoring_failure_name(ScoringFailure failure);  // "timeout", "http_status", ...

// One request. Owned by the caller; the client writes the result fields on its thread and
// hands the call back through take_completed(), after which the caller may read them.
struct ScoringCall {
  // Set by the caller before submit():
  std::string body;  // the JSON request body (an array of `rows` bodies when rows > 1 is batched)
  uint32_t rows = 1;
  bool batched = false;  // body is an array and the response must be one of `rows` results
  void* owner = nullptr;  // the caller's bookkeeping

  // Set by the client:
  bool ok = false;
  ScoringFailure failure = ScoringFailure::kNone;
  std::string error;      // one line: what failed (status code, curl error), on failure
  std::string response;   // the response body
  // ok && batched: the JSON text of result i is results_chars[result_offsets[i], [i + 1]).
  std::string results_chars;
  std::vector<uint32_t> result_offsets;
  int attempts = 0;

  // The client's state of the call.
  Micros submitted_at = 0;
  Micros deadline = 0;
  Micros next_attempt_at = 0;
  std::unique_ptr<Backoff> backoff;
  bool probe = false;  // the attempt in flight holds a half-open probe slot
};

// The series of one operator instance: labels {job, operator, instance}.
struct ScoringMetrics {
  ScoringMetrics(MetricsRegistry& registry, const std::string& job, const std::string& operator_id, int instance);
  Counter* calls;          // calls completed (a micro-batch is one call)
  Counter* failures;       // failed attempts (timeouts, HTTP errors, connection errors, bad responses)
  Counter* timeouts;       // calls that ran out of time
  Counter* retries;        // attempts after the first
  Counter* short_circuited;  // calls failed at once because the breaker was open
  Counter* fallbacks;      // rows given the fallback (or dead-lettered) after a failed call
  Gauge* circuit_state;    // 0 closed, 1 open, 2 half-open
  Gauge* in_flight;        // calls submitted and not completed
  Histogram* call_latency_us;  // submit -> completion of every call, failed ones included
};

class ScoringClient {
 public:
  // Starts the I/O thread. `clock` (deadlines, backoff, breaker) and `metrics` must outlive it.
  static Result<std::unique_ptr<ScoringClient>> start(const ScoringClientOptions& options, const Clock& clock,
                                                      ScoringMetrics* metrics, std::function<void()> on_complete);
  ~ScoringClient();
  ScoringClient(const ScoringClient&) = delete;
  ScoringClient& operator=(const ScoringClient&) = delete;

  // Starts `call` (its deadline begins now). The call must stay alive until it comes back
  // from take_completed() or the client is destroyed.
  void submit(ScoringCall* call);
  // Appends the calls completed since the last take, in completion order.
  void take_completed(std::vector<ScoringCall*>* out);
  // Blocks until a call completed that was not taken yet, or `timeout_us` passed.
  void wait_completed(Micros timeout_us);

  CircuitBreaker::State circuit_state() const { return static_cast<CircuitBreaker::State>(state_.load()); }

 private:
  struct Impl;
  ScoringClient(const ScoringClientOptions& options, const Clock& clock, ScoringMetrics* metrics,
                std::function<void()> on_complete);
  void run();

  std::unique_ptr<Impl> impl_;
  std::atomic<int> state_{0};
  std::thread thread_;
};

}  // namespace sluice
