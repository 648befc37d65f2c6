#include "scoring/scoring_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/logging.h"

namespace sluice {

const char* scoring_failure_name(ScoringFailure failure) {
  switch (failure) {
    case ScoringFailure::kNone:
      return "none";
    case ScoringFailure::kTimeout:
      return "timeout";
    case ScoringFailure::kHttpStatus:
      return "http_status";
    case ScoringFailure::kConnection:
      return "connection";
    case ScoringFailure::kBadResponse:
      return "bad_response";
    case ScoringFailure::kCircuitOpen:
      return "circuit_open";
  }
  return "?";
}

namespace {

const std::vector<std::string> kScoringLabels = {"job", "operator", "instance"};

// Call latency buckets, µs: 100 µs .. 10 s (finer than the end-to-end buckets: model
// calls over loopback take a millisecond or two).
std::vector<int64_t> call_latency_bounds() {
  return {100,     250,     500,     1'000,     2'000,     3'000,     5'000,      7'500,     10'000,
          15'000,  20'000,  30'000,  50'000,    75'000,    100'000,   150'000,    200'000,   300'000,
          500'000, 750'000, 1'000'000, 2'000'000, 5'000'000, 10'000'000};
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  static_cast<ScoringCall*>(user)->response.append(data, size * count);
  return size * count;
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

ScoringMetrics::ScoringMetrics(MetricsRegistry& registry, const std::string& job, const std::string& operator_id,
                               int instance) {
  const std::vector<std::string> labels = {job, operator_id, std::to_string(instance)};
  auto counter = [&](const char* name, const char* help) {
    Counter* c = &registry.counter(name, help, kScoringLabels).series(labels);
    c->reset();  // a job starting under a label starts its counts again
    return c;
  };
  calls = counter("sluice_scoring_calls_total", "Scoring calls completed (a micro-batch of rows is one call)");
  failures = counter("sluice_scoring_failures_total",
                     "Failed scoring attempts: timeouts, HTTP errors, connection errors, malformed responses");
  timeouts = counter("sluice_scoring_timeouts_total", "Scoring calls that ran out of time (every attempt included)");
  retries = counter("sluice_scoring_retries_total", "Scoring attempts after the first of a call");
  short_circuited = counter("sluice_scoring_short_circuited_total",
                            "Scoring calls failed at once because the circuit breaker was open");
  fallbacks = counter("sluice_scoring_fallbacks_total",
                      "Rows given the fallback value (or dead-lettered) because their scoring call failed");
  circuit_state = &registry.gauge("sluice_scoring_circuit_state",
                                  "State of the scoring circuit breaker: 0 closed, 1 open, 2 half-open", kScoringLabels)
                       .series(labels);
  circuit_state->set(0);
  in_flight = &registry.gauge("sluice_scoring_in_flight", "Scoring calls submitted and not completed", kScoringLabels)
                   .series(labels);
  in_flight->set(0);
  call_latency_us = &registry
                         .histogram("sluice_scoring_call_latency_seconds",
                                    "Latency of scoring calls, from submission to completion (retries included)",
                                    kScoringLabels, call_latency_bounds(), 1e6)
                         .series(labels);
  call_latency_us->reset();
}

struct ScoringClient::Impl {
  ScoringClientOptions options;
  const Clock& clock;
  ScoringMetrics* metrics;
  std::function<void()> on_complete;
  CircuitBreaker breaker;

  CURLM* multi = nullptr;
  curl_slist* headers = nullptr;
  std::vector<CURL*> idle_handles;  // reused: no handle set-up per request
  std::vector<CURL*> active;        // attached to `multi` (an attempt in flight)

  std::atomic<bool> stop{false};
  std::mutex submit_mu;
  std::vector<ScoringCall*> submitted;  // guarded by submit_mu

  std::mutex completed_mu;
  std::condition_variable completed_cv;
  std::vector<ScoringCall*> completed;  // guarded by completed_mu

  // I/O thread only:
  std::vector<ScoringCall*> incoming;
  std::vector<ScoringCall*> waiting;  // failed, retried at next_attempt_at

  Impl(const ScoringClientOptions& o, const Clock& c, ScoringMetrics* m, std::function<void()> done)
      : options(o), clock(c), metrics(m), on_complete(std::move(done)), breaker(o.breaker, c) {}

  ~Impl() {
    for (CURL* e : idle_handles) curl_easy_cleanup(e);
    if (multi) curl_multi_cleanup(multi);
    if (headers) curl_slist_free_all(headers);
  }

  void publish_state(std::atomic<int>& state) {
    const int s = static_cast<int>(breaker.state());
    state.store(s, std::memory_order_relaxed);
    metrics->circuit_state->set(s);
  }

  void complete(ScoringCall* call, ScoringFailure failure, std::string error) {
    const Micros now = clock.monotonic_micros();
    call->ok = failure == ScoringFailure::kNone;
    call->failure = failure;
    call->error = std::move(error);
    metrics->calls->increment();
    if (failure == ScoringFailure::kTimeout) metrics->timeouts->increment();
    metrics->call_latency_us->observe(std::max<Micros>(0, now - call->submitted_at));
    metrics->in_flight->add(-1);
    {
      std::lock_guard<std::mutex> lock(completed_mu);
      completed.push_back(call);
    }
    completed_cv.notify_all();
    if (on_complete) on_complete();
  }

  // Starts the next attempt of `call`, or fails it when its time is up or the breaker is open.
  void attempt(ScoringCall* call, Micros now, std::atomic<int>& state) {
    if (now >= call->deadline) {
      complete(call, ScoringFailure::kTimeout,
               call->error.empty() ? "deadline passed" : "deadline passed after " + call->error);
      return;
    }
    if (!breaker.try_acquire()) {
      publish_state(state);
      metrics->short_circuited->increment();
      complete(call, ScoringFailure::kCircuitOpen, "circuit open");
      return;
    }
    call->probe = breaker.state() == CircuitBreaker::State::kHalfOpen;
    publish_state(state);
    CURL* easy = nullptr;
    if (!idle_handles.empty()) {
      easy = idle_handles.back();
      idle_handles.pop_back();
    } else {
      easy = curl_easy_init();
      if (!easy) {
        complete(call, ScoringFailure::kConnection, "curl_easy_init failed");
        return;
      }
      curl_easy_setopt(easy, CURLOPT_URL, options.url.c_str());
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_body);
      curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    }
    call->response.clear();
    if (++call->attempts > 1) metrics->retries->increment();
    const long remaining_ms = std::max<long>(1, static_cast<long>((call->deadline - now + 999) / kMicrosPerMilli));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(call->body.size()));
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, call);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, remaining_ms);
    curl_multi_add_handle(multi, easy);
    active.push_back(easy);
  }

  // Splits a micro-batch's response into its results; false when it is not an array of
  // call->rows values.
  static bool split_results(ScoringCall* call) {
    nlohmann::json parsed = nlohmann::json::parse(call->response, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_array() || parsed.size() != call->rows) return false;
    call->results_chars.clear();
    call->result_offsets.assign(1, 0);
    for (const auto& element : parsed) {
      call->results_chars += element.dump();
      call->result_offsets.push_back(static_cast<uint32_t>(call->results_chars.size()));
    }
    return true;
  }

  void finish_attempt(CURL* easy, CURLcode rc, std::atomic<int>& state) {
    ScoringCall* call = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&call));
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(multi, easy);
    active.erase(std::find(active.begin(), active.end(), easy));
    idle_handles.push_back(easy);
    const Micros now = clock.monotonic_micros();
    ScoringFailure failure = ScoringFailure::kNone;
    bool retryable = false;
    std::string error;
    if (rc != CURLE_OK) {
      failure = rc == CURLE_OPERATION_TIMEDOUT ? ScoringFailure::kTimeout : ScoringFailure::kConnection;
      retryable = true;
      error = curl_easy_strerror(rc);
    } else if (status < 200 || status >= 300) {
      failure = ScoringFailure::kHttpStatus;
      retryable = status == 429 || status >= 500;
      error = "HTTP " + std::to_string(status);
    } else if (call->batched && !split_results(call)) {
      failure = ScoringFailure::kBadResponse;
      error = "response is not a JSON array of " + std::to_string(call->rows) + " results";
    }
    if (failure == ScoringFailure::kNone) {
      breaker.on_success();
      publish_state(state);
      complete(call, ScoringFailure::kNone, "");
      return;
    }
    metrics->failures->increment();
    breaker.on_failure();
    publish_state(state);
    call->error = error;
    if (retryable) {
      std::optional<Micros> delay = call->backoff->next_delay(now);
      if (delay && now + *delay < call->deadline) {
        call->next_attempt_at = now + *delay;
        waiting.push_back(call);
        return;
      }
    }
    if (now >= call->deadline) failure = ScoringFailure::kTimeout;
    complete(call, failure, std::move(error));
  }
};

ScoringClient::ScoringClient(const ScoringClientOptions& options, const Clock& clock, ScoringMetrics* metrics,
                             std::function<void()> on_complete)
    : impl_(std::make_unique<Impl>(options, clock, metrics, std::move(on_complete))) {}

Result<std::unique_ptr<ScoringClient>> ScoringClient::start(const ScoringClientOptions& options, const Clock& clock,
                                                            ScoringMetrics* metrics,
                                                            std::function<void()> on_complete) {
  RETURN_IF_ERROR(options.retry.validate());
  RETURN_IF_ERROR(options.breaker.validate());
  if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0) {
    return invalid_argument("scoring url '{}' must start with http:// or https://", options.url);
  }
  init_curl_once();
  std::unique_ptr<ScoringClient> client(new ScoringClient(options, clock, metrics, std::move(on_complete)));
  Impl& impl = *client->impl_;
  impl.multi = curl_multi_init();
  if (!impl.multi) return Status(StatusCode::kInternal, "scoring: curl_multi_init failed");
  curl_multi_setopt(impl.multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(std::max(1, options.max_connections)));
  impl.headers = curl_slist_append(impl.headers, "Content-Type: application/json");
  impl.headers = curl_slist_append(impl.headers, "Expect:");  // no 100-continue round trip on large bodies
  client->thread_ = std::thread([c = client.get()] { c->run(); });
  return client;
}

ScoringClient::~ScoringClient() {
  impl_->stop.store(true);
  if (impl_->multi) curl_multi_wakeup(impl_->multi);
  if (thread_.joinable()) thread_.join();
  // Handles still attached: detach them before the multi handle goes.
  for (CURL* e : impl_->active) {
    curl_multi_remove_handle(impl_->multi, e);
    impl_->idle_handles.push_back(e);
  }
  impl_->active.clear();
}

void ScoringClient::submit(ScoringCall* call) {
  call->ok = false;
  call->failure = ScoringFailure::kNone;
  call->error.clear();
  call->attempts = 0;
  impl_->metrics->in_flight->add(1);
  {
    std::lock_guard<std::mutex> lock(impl_->submit_mu);
    impl_->submitted.push_back(call);
  }
  curl_multi_wakeup(impl_->multi);
}

void ScoringClient::take_completed(std::vector<ScoringCall*>* out) {
  std::lock_guard<std::mutex> lock(impl_->completed_mu);
  out->insert(out->end(), impl_->completed.begin(), impl_->completed.end());
  impl_->completed.clear();
}

void ScoringClient::wait_completed(Micros timeout_us) {
  std::unique_lock<std::mutex> lock(impl_->completed_mu);
  impl_->completed_cv.wait_for(lock, std::chrono::microseconds(timeout_us), [&] { return !impl_->completed.empty(); });
}

void ScoringClient::run() {
  Impl& impl = *impl_;
  while (!impl.stop.load(std::memory_order_relaxed)) {
    {
      std::lock_guard<std::mutex> lock(impl.submit_mu);
      impl.incoming.swap(impl.submitted);
    }
    Micros now = impl.clock.monotonic_micros();
    for (ScoringCall* call : impl.incoming) {
      call->submitted_at = now;
      call->deadline = now + impl.options.timeout_us;
      call->backoff = std::make_unique<Backoff>(impl.options.retry, now);
      impl.attempt(call, now, state_);
    }
    impl.incoming.clear();
    // Retries that are due (a handful at most: a scan is enough).
    Micros next_due = now + 50 * kMicrosPerMilli;
    for (size_t i = 0; i < impl.waiting.size();) {
      ScoringCall* call = impl.waiting[i];
      if (call->next_attempt_at <= now) {
        impl.waiting[i] = impl.waiting.back();
        impl.waiting.pop_back();
        impl.attempt(call, now, state_);
      } else {
        next_due = std::min(next_due, call->next_attempt_at);
        ++i;
      }
    }
    int running = 0;
    curl_multi_perform(impl.multi, &running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(impl.multi, &queued)) {
      if (msg->msg == CURLMSG_DONE) impl.finish_attempt(msg->easy_handle, msg->data.result, state_);
    }
    now = impl.clock.monotonic_micros();
    const int wait_ms = static_cast<int>(std::clamp<Micros>((next_due - now + 999) / kMicrosPerMilli, 0, 50));
    curl_multi_poll(impl.multi, nullptr, 0, wait_ms, nullptr);
  }
}

}  // namespace sluice
