// The metrics a job registers (every name, label and unit is listed in docs/metrics.md):
// handles to the series of one operator instance, one source reader task and the
// checkpoint coordinator, looked up once in the job's MetricsRegistry when the job builds its tasks.
//
// The values live in the registry only; these structs hold pointers to its series so the
// hot path updates them with one relaxed atomic add per batch (no lock, no lookup). The
// progress line and the summary of the CLI read the same series through the handles, a
// scraper through MetricsRegistry::collect().
//
// Threads: a handle is written by the one task thread that owns it (the checkpoint series
// by the coordinator thread) and may be read by any thread.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/time_util.h"
#include "metrics/registry.h"
#include "types/record_batch.h"

namespace sluice {

// One operator instance: labels {job, operator, kind, instance}.
struct OperatorMetrics {
  // Series owned by this struct, in no registry: operator unit tests open operators
  // without a job.
  OperatorMetrics();
  OperatorMetrics(MetricsRegistry& registry, const std::string& job, std::string operator_id, std::string kind,
                  int instance);
  OperatorMetrics(const OperatorMetrics&) = delete;
  OperatorMetrics& operator=(const OperatorMetrics&) = delete;
  ~OperatorMetrics();

  std::string name;  // "<operator id> <kind>", as the CLI summary prints it
  std::string operator_id;
  std::string kind;
  int instance = 0;
  Counter* records_in;
  Counter* records_out;
  Counter* late;        // rows this operator found too late (late filter, windows)
  Gauge* watermark;     // µs; kMinWatermark until the first watermark
  Counter* blocked_ns;  // time its output waited for space in full downstream channels
  Counter* state_expired;  // state rows dropped by the state TTL (regular joins)
  Gauge* state_entries;    // Operator::state_entries(): what the instance holds now (-1: stateless)
  Gauge* state_snapshot_bytes;  // bytes the instance wrote in its last checkpoint (-1: none yet)
  // Window operators: the end of the oldest window that has not fired yet (µs);
  // kMaxWatermark when none is open or the operator has no windows. Not exported to
  // /metrics (the REST API explains with it why a window has not fired).
  Gauge open_window_end{kMaxWatermark};

  void add_in(uint64_t n) { records_in->add(n); }
  void add_out(uint64_t n) { records_out->add(n); }
  void add_late(uint64_t n) { late->add(n); }

 private:
  struct Detached;
  std::unique_ptr<Detached> detached_;
};

// One split of a source table: labels {job, source, split} (the split's id). Set by the
// reader task currently reading it (a split moved to another reader keeps its series).
struct SplitMetrics {
  enum State : int64_t { kWaiting = 0, kActive = 1, kIdle = 2, kFinished = 3 };
  Gauge* watermark;  // µs, the split's own watermark; kMinWatermark until its first
  Gauge* state;      // State
  Gauge* reader;     // the reader task (instance) reading it
};

// One reader task of a source table (it may read several splits): labels {job, source,
// instance}, instance = the reader task's index.
struct SourceMetrics {
  // `schema`: the table's columns (one null counter each; null: none).
  SourceMetrics(MetricsRegistry& registry, const std::string& job, std::string table, int instance,
                const Schema* schema = nullptr);
  // The series of split `split_id` (looked up in the registry: call when the split is
  // assigned, not per batch).
  SplitMetrics split(const std::string& split_id) const;

  std::string table;
  int instance = 0;
  Counter* records;        // input records read (a CSV header is not one)
  Counter* bytes;          // bytes of the input records (line terminators excluded)
  Counter* dead_lettered;  // records sent to the dead-letter queue
  Counter* late;           // records written to the late-data output (once each, however many queries)
  Gauge* watermark;        // µs, the task's watermark (minimum over its active splits);
                           // kMinWatermark until the first watermark, kMaxWatermark at the end
  // Data quality (docs/metrics.md, "Data quality").
  Counter* schema_violations;   // records the decoder refused (not the format, or not the schema)
  Counter* rows;                // rows the source emitted into the pipeline (the nulls' denominator)
  std::vector<Counter*> nulls;  // per column: NULL values in the emitted rows; labels {job, source, column}
  Gauge* newest_event;          // µs, the newest event time read so far; kMinWatermark until one
  Gauge* freshness;             // µs, processing time - newest_event when last checked; -1 s until one
  // Adds the NULLs and rows of `batch` (the table's columns): one pass over each validity vector.
  void count_rows(const RecordBatch& batch);

 private:
  MetricsRegistry* registry_;
  std::string job_;
};

// One checkpoint attempt as the REST API lists it.
struct CheckpointRecord {
  uint64_t id = 0;
  Micros started_unix_us = 0;  // when it was triggered
  Micros duration_us = 0;      // trigger -> durable (or -> failure)
  uint64_t size_bytes = 0;     // linked files included
  uint64_t new_bytes = 0;      // linked files excluded
  bool completed = false;      // false: failed (`error` says why)
  bool savepoint = false;
  bool final = false;          // the checkpoint taken when the input ended
  std::string error;
};

// The last `capacity` checkpoint attempts of a job, oldest first. Written by the
// coordinator thread once per checkpoint, read by any thread (a short lock each).
class CheckpointHistory {
 public:
  explicit CheckpointHistory(size_t capacity = 100) : capacity_(capacity) {}
  void add(CheckpointRecord record);
  std::vector<CheckpointRecord> snapshot() const;
  uint64_t total() const;  // attempts recorded since the job started (older ones dropped)

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<CheckpointRecord> records_;
  uint64_t total_ = 0;
};

// One sink table: labels {job, sink}; its writer instances share the series. End-to-end
// latency per committed row (runtime/batch_timing.h, operators/commit_latency.h).
struct SinkMetrics {
  SinkMetrics(MetricsRegistry& registry, const std::string& job, const std::string& table);

  Histogram* ingest_latency_us;  // the source's poll that read the record -> its commit
  Histogram* event_latency_us;   // the record's event time -> its commit (rows with an event time)
};

// The checkpoint coordinator of a job: labels {job}.
struct CheckpointMetrics {
  CheckpointMetrics(MetricsRegistry& registry, const std::string& job);

  Counter* completed;      // checkpoints (and savepoints) written
  Counter* failed;         // checkpoints that could not be written
  Histogram* duration_us;  // trigger -> durable
  Histogram* size_bytes;   // bytes of each checkpoint's files (linked files included)
  Gauge* last_id;          // id of the last completed checkpoint (0: none)
  Gauge* last_duration_us;
  Gauge* last_size_bytes;
  Gauge* last_new_bytes;          // bytes actually written (linked files excluded)
  Gauge* last_completed_unix_us;  // when the last checkpoint completed (age = now - this)
  Gauge* restored_id;             // the checkpoint the job resumed from (0: none)
  std::shared_ptr<CheckpointHistory> history = std::make_shared<CheckpointHistory>();
};

}  // namespace sluice
