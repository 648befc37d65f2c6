// CommitLatency: a sink instance's end-to-end latency bookkeeping. It remembers the timing
// stamp (runtime/batch_timing.h) and row count of every batch the sink received until those
// rows are committed, then observes, per batch, commit time - ingestion time and commit
// time - event time into the sink's histograms, weighted by its rows.
//
// With checkpoints the rows of a batch are committed when the checkpoint after them
// completes: seal(id) at the snapshot closes the rows so far under checkpoint `id`;
// committed(id, now) after the writer's commit(id) observes every sealed group <= id.
// Without checkpoints a flush commits: flushed(now) observes everything received.
//
// Memory is bounded and reused: consecutive batches stamped within 1 ms of each other share
// one entry (their rows add up), at most kMaxEntries entries are kept (beyond that, batches
// join the newest entry), and the entry vector keeps its capacity: no allocation per batch
// once warm. A batch of a sampled trace (common/trace.h) keeps an entry of its own and its
// commit is recorded as the span "commit <table>" (received to committed). Not thread-safe: one per sink instance, called on its task thread.
#pragma once

#include <string>

#include <cstdint>
#include <vector>

#include "metrics/registry.h"
#include "runtime/batch_timing.h"

namespace sluice {

class CommitLatency {
 public:
  // Either histogram may be null (nothing observed into it); values are microseconds.
  CommitLatency(Histogram* ingest_latency, Histogram* event_latency, std::string sink = "")
      : ingest_(ingest_latency), event_(event_latency), sink_(std::move(sink)) {}

  void add(const BatchTiming& timing, uint64_t rows);
  void seal(uint64_t checkpoint_id);
  void committed(uint64_t checkpoint_id, Micros now);
  void flushed(Micros now);
  // Entries held (tests).
  size_t size() const { return entries_.size(); }

  static constexpr size_t kMaxEntries = 16384;
  static constexpr Micros kMergeWithin = 1000;  // µs

 private:
  struct Entry {
    Micros ingest_us;
    Micros event_us;
    uint64_t rows;
    uint64_t checkpoint;  // 0: not sealed yet
    TraceContext trace{};  // a traced batch keeps an entry of its own: its commit is a span
    Micros received_us = 0;
  };
  void observe(const Entry& e, Micros now);

  Histogram* ingest_;
  Histogram* event_;
  std::string sink_;  // the table, in commit span names
  std::vector<Entry> entries_;  // in arrival order; sealed ones first
};

}  // namespace sluice
