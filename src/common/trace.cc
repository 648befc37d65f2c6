#include "common/trace.h"

#include <random>

#include <fmt/format.h>

#include "common/logging.h"

namespace sluice {
namespace {

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

void append_attribute(std::string& out, const std::string& key, const std::string& value) {
  out += "{\"key\":" + json_quote(key) + ",\"value\":{\"stringValue\":" + json_quote(value) + "}}";
}

}  // namespace

Tracer& Tracer::global() {
  static Tracer tracer;
  return tracer;
}

void Tracer::configure(double sample, std::string service, std::string job) {
  std::lock_guard<std::mutex> lock(mu_);
  service_ = std::move(service);
  job_ = std::move(job);
  sample_.store(sample < 0 ? 0 : (sample > 1 ? 1 : sample), std::memory_order_relaxed);
}

bool Tracer::sample() const {
  const double p = sample_.load(std::memory_order_relaxed);
  if (p <= 0) return false;
  if (p >= 1) return true;
  return std::uniform_real_distribution<double>(0, 1)(rng()) < p;
}

uint64_t Tracer::new_id() {
  uint64_t id = 0;
  while (id == 0) id = rng()();
  return id;
}

TraceContext Tracer::start_trace() { return TraceContext{new_id(), new_id(), new_id()}; }

void Tracer::record(SpanRecord span) {
  std::lock_guard<std::mutex> lock(mu_);
  if (spans_.size() >= kMaxBuffered) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  spans_.push_back(std::move(span));
}

std::vector<SpanRecord> Tracer::take() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SpanRecord> out;
  out.swap(spans_);
  return out;
}

std::string Tracer::to_otlp_json(const std::vector<SpanRecord>& spans) const {
  std::string service, job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    service = service_;
    job = job_;
  }
  std::string out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
  append_attribute(out, "service.name", service);
  out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"sluice\"},\"spans\":[";
  for (size_t i = 0; i < spans.size(); ++i) {
    const SpanRecord& s = spans[i];
    if (i) out += ',';
    out += fmt::format("{{\"traceId\":\"{:016x}{:016x}\",\"spanId\":\"{:016x}\"", s.trace_hi, s.trace_lo, s.span_id);
    if (s.parent_id) out += fmt::format(",\"parentSpanId\":\"{:016x}\"", s.parent_id);
    out += ",\"name\":" + json_quote(s.name);
    out += fmt::format(",\"kind\":1,\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":[",
                       static_cast<uint64_t>(s.start_us) * 1000, static_cast<uint64_t>(s.end_us) * 1000);
    bool first = true;
    if (!job.empty()) {
      append_attribute(out, "sluice.job", job);
      first = false;
    }
    for (const auto& [k, v] : s.attributes) {
      if (!first) out += ',';
      first = false;
      append_attribute(out, k, v);
    }
    out += "]}";
  }
  out += "]}]}]}";
  return out;
}

}  // namespace sluice
