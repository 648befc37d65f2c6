// Tracing: OpenTelemetry-shaped spans for a sampled fraction of the batches a job moves, so
// a slow operator, enrichment call or sink commit shows up on one record path. Off by
// default (no --trace-endpoint): then each batch costs one relaxed load and a branch.
//
// A source task samples a poll (probability `sample`), gives its batch a trace id and a
// root span ("source <table>": poll to emission); the id travels in the batch's timing
// stamp (runtime/batch_timing.h). Every task that processes a traced batch records a span
// of its operator chain ("<task>": the process call, child of the span before it), and a
// sink records "commit <table>" from receiving the rows to their commit (checkpoint
// completion or flush). Spans go to a bounded in-memory buffer (beyond kMaxBuffered, spans
// are dropped and counted); an exporter (server/otlp_exporter.h) takes them and POSTs them
// as OTLP/HTTP JSON.
//
// Threads: record() and take() are thread-safe (a mutex: only sampled batches reach it).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/time_util.h"

namespace sluice {

// A batch's place in a trace (zero: not sampled).
struct TraceContext {
  uint64_t trace_hi = 0, trace_lo = 0;
  uint64_t span = 0;  // the span the next one is a child of
  bool sampled() const { return (trace_hi | trace_lo) != 0; }
};

struct SpanRecord {
  uint64_t trace_hi = 0, trace_lo = 0;
  uint64_t span_id = 0, parent_id = 0;  // parent 0: a root span
  std::string name;
  Micros start_us = 0, end_us = 0;  // Unix µs
  std::vector<std::pair<std::string, std::string>> attributes;
};

class Tracer {
 public:
  static Tracer& global();

  // sample: the fraction of source polls traced (0: off). `service`: the resource's
  // service.name; `job`: an attribute of every span.
  void configure(double sample, std::string service, std::string job);
  bool enabled() const { return sample_.load(std::memory_order_relaxed) > 0; }
  // Whether to trace the next poll (thread-local random draw).
  bool sample() const;
  // A new random non-zero 64-bit id.
  static uint64_t new_id();
  // A new trace with its root span id set in `ctx.span`.
  static TraceContext start_trace();

  void record(SpanRecord span);
  std::vector<SpanRecord> take();
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // An OTLP/HTTP JSON ExportTraceServiceRequest of `spans`.
  std::string to_otlp_json(const std::vector<SpanRecord>& spans) const;

  static constexpr size_t kMaxBuffered = 65536;

 private:
  std::atomic<double> sample_{0};
  std::string service_ = "sluice", job_;
  mutable std::mutex mu_;
  std::vector<SpanRecord> spans_;
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace sluice
