#include "runtime/metrics.h"

namespace sluice {
namespace {

constexpr double kMicrosPerSecondD = 1e6;
constexpr double kNanosPerSecondD = 1e9;

const std::vector<std::string> kOperatorLabels = {"job", "operator", "kind", "instance"};
const std::vector<std::string> kSourceLabels = {"job", "source", "instance"};
const std::vector<std::string> kJobLabels = {"job"};
const std::vector<std::string> kSplitLabels = {"job", "source", "split"};
const std::vector<std::string> kSinkLabels = {"job", "sink"};
const std::vector<std::string> kColumnLabels = {"job", "source", "column"};

// End-to-end latency buckets, µs: 0.5 ms .. 1 h, finer below 25 ms (decisions written within
// milliseconds: the p99 of a scoring pipeline, bench/scoring_latency.sh).
std::vector<int64_t> latency_bounds() {
  std::vector<int64_t> out;
  for (double s : {0.0005, 0.001, 0.002, 0.0025, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0}) {
    out.push_back(static_cast<int64_t>(s * 1e6));
  }
  return out;
}

// A job starting under a label takes the series over from an earlier run under that label
// (a job resubmitted to the engine by name): its counts start again from zero, as after a
// process restart, instead of adding to the earlier run's.
template <class T>
T* fresh(T& series) {
  series.reset();
  return &series;
}

}  // namespace

struct OperatorMetrics::Detached {
  Counter records_in, records_out, late, blocked_ns, state_expired;
  Gauge watermark{kMinWatermark};
  Gauge state_entries{-1}, state_snapshot_bytes{-1};
};

OperatorMetrics::OperatorMetrics() : detached_(std::make_unique<Detached>()) {
  records_in = &detached_->records_in;
  records_out = &detached_->records_out;
  late = &detached_->late;
  watermark = &detached_->watermark;
  blocked_ns = &detached_->blocked_ns;
  state_expired = &detached_->state_expired;
  state_entries = &detached_->state_entries;
  state_snapshot_bytes = &detached_->state_snapshot_bytes;
}

OperatorMetrics::OperatorMetrics(MetricsRegistry& registry, const std::string& job, std::string operator_id,
                                 std::string kind_name, int instance_index)
    : name(operator_id + " " + kind_name),
      operator_id(std::move(operator_id)),
      kind(std::move(kind_name)),
      instance(instance_index) {
  std::vector<std::string> labels = {job, this->operator_id, kind, std::to_string(instance)};
  records_in =
      fresh(registry.counter("sluice_records_in_total", "Records that entered the operator instance.", kOperatorLabels)
                .series(labels));
  records_out = fresh(registry
                          .counter("sluice_records_out_total",
                                   "Records the operator instance emitted (a sink: rows it wrote).", kOperatorLabels)
                          .series(labels));
  late = fresh(registry
                   .counter("sluice_late_records_total",
                            "Rows the operator instance found too late for their window (late filter, windows).",
                            kOperatorLabels)
                   .series(labels));
  watermark = fresh(registry
                        .gauge("sluice_operator_watermark_seconds",
                               "Event-time watermark of the operator instance's input, in Unix seconds.",
                               kOperatorLabels, kMicrosPerSecondD, kMinWatermark)
                        .series(labels));
  blocked_ns = fresh(registry
                         .counter("sluice_backpressure_seconds_total",
                                  "Time the operator instance's output waited for space in full downstream channels.",
                                  kOperatorLabels, kNanosPerSecondD)
                         .series(labels));
  state_expired = fresh(registry
                            .counter("sluice_state_expired_rows_total",
                                     "Rows the operator instance dropped from its state after the state TTL "
                                     "(SET state_ttl) without a write.",
                                     kOperatorLabels)
                            .series(labels));
  state_entries = fresh(registry
                            .gauge("sluice_operator_state_entries",
                                   "Keyed state entries the operator instance holds: groups of open windows, sessions' "
                                   "groups, groups of an updating aggregate, top-N partitions, join keys, keyed state values "
                                   "(-1: a stateless operator).",
                                   kOperatorLabels, 1.0, -1)
                            .series(labels));
  state_snapshot_bytes = fresh(registry
                                   .gauge("sluice_operator_state_snapshot_bytes",
                                          "Bytes of state the operator instance wrote in its last checkpoint (memory "
                                          "backend: all of its state; rocksdb: the changes since the previous one; -1: "
                                          "none yet).",
                                          kOperatorLabels, 1.0, -1)
                                   .series(labels));
}

OperatorMetrics::~OperatorMetrics() = default;

SourceMetrics::SourceMetrics(MetricsRegistry& registry, const std::string& job, std::string table_name,
                             int instance_index, const Schema* schema)
    : table(std::move(table_name)), instance(instance_index), registry_(&registry), job_(job) {
  const std::vector<std::string> labels = {job, table, std::to_string(instance)};
  auto counter = [&](const char* name, const char* help) {
    return fresh(registry.counter(name, help, kSourceLabels).series(labels));
  };
  auto gauge = [&](const char* name, const char* help, double divisor, int64_t initial) {
    return fresh(registry.gauge(name, help, kSourceLabels, divisor, initial).series(labels));
  };
  records = counter("sluice_source_records_total", "Input records the source split read.");
  bytes = counter("sluice_source_bytes_total",
                  "Bytes of the input records the source split read (line terminators excluded).");
  dead_lettered =
      counter("sluice_dead_lettered_records_total", "Records of the source split sent to the dead-letter queue.");
  late = counter("sluice_source_late_records_total",
                 "Input records of the source split written to its late-data output (once each, however many "
                 "queries found them late).");
  watermark = gauge("sluice_source_watermark_seconds",
                    "Event-time watermark the source split emitted, in Unix seconds.", kMicrosPerSecondD, kMinWatermark);
  schema_violations = counter("sluice_source_schema_violations_total",
                              "Input records that could not be decoded into the table's columns (not valid JSON/CSV, "
                              "or a value that does not fit its column's type); they go to the dead-letter queue.");
  rows = counter("sluice_source_rows_total",
                 "Rows the source emitted into the pipeline (decoded records that passed the event-time checks).");
  newest_event = gauge("sluice_source_newest_event_timestamp_seconds",
                       "The newest event time the reader task has read, in Unix seconds.", kMicrosPerSecondD,
                       kMinWatermark);
  freshness = gauge("sluice_source_freshness_seconds",
                    "Age of the newest event the reader task has read (processing time - newest event time), "
                    "updated as it polls; -1 until it read an event time.",
                    kMicrosPerSecondD, -static_cast<int64_t>(kMicrosPerSecondD));
  if (schema) {
    auto& family = registry.counter("sluice_source_null_values_total",
                                    "NULL values in the rows the source emitted, per column (null rate = this / "
                                    "sluice_source_rows_total).",
                                    kColumnLabels);
    for (const Field& f : schema->fields()) {
      // Every reader task of the table adds to the one series of a column: reset it once,
      // by the first reader task.
      Counter& c = family.series({job, table, f.name});
      if (instance == 0) c.reset();
      nulls.push_back(&c);
    }
  }
}

void SourceMetrics::count_rows(const RecordBatch& batch) {
  const size_t n = batch.num_rows;
  if (n == 0) return;
  rows->add(n);
  for (size_t c = 0; c < nulls.size() && c < batch.columns.size(); ++c) {
    const uint8_t* valid = batch.columns[c].validity();
    size_t present = 0;
    for (size_t r = 0; r < n; ++r) present += valid[r] != 0;
    if (present != n) nulls[c]->add(n - present);
  }
}

CheckpointMetrics::CheckpointMetrics(MetricsRegistry& registry, const std::string& job) {
  const std::vector<std::string> labels = {job};
  completed =
      fresh(registry.counter("sluice_checkpoints_completed_total", "Checkpoints and savepoints written.", kJobLabels)
                .series(labels));
  failed =
      fresh(registry.counter("sluice_checkpoints_failed_total", "Checkpoints that could not be written.", kJobLabels)
                .series(labels));
  // 10 ms .. 5 min.
  duration_us = fresh(registry
                          .histogram("sluice_checkpoint_duration_seconds",
                                     "Time from a checkpoint's trigger until it is durable.", kJobLabels,
                                     {10'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000,
                                      10'000'000, 30'000'000, 60'000'000, 300'000'000},
                                     kMicrosPerSecondD)
                          .series(labels));
  // 1 KiB .. 16 GiB, by powers of 4.
  std::vector<int64_t> size_bounds;
  for (int64_t b = 1024; b <= (int64_t{16} << 30); b *= 4) size_bounds.push_back(b);
  size_bytes = fresh(registry
                         .histogram("sluice_checkpoint_size_bytes",
                                    "Bytes of a checkpoint's files (files linked from earlier checkpoints included).",
                                    kJobLabels, size_bounds)
                         .series(labels));
  last_id = fresh(
      registry
          .gauge("sluice_checkpoint_last_completed_id", "Id of the last completed checkpoint (0: none).", kJobLabels)
          .series(labels));
  last_duration_us = fresh(registry
                               .gauge("sluice_checkpoint_last_duration_seconds",
                                      "Time from the last completed checkpoint's trigger until it was durable.",
                                      kJobLabels, kMicrosPerSecondD)
                               .series(labels));
  last_size_bytes =
      fresh(registry
                .gauge("sluice_checkpoint_last_size_bytes",
                       "Bytes of the last completed checkpoint's files (linked files included).", kJobLabels)
                .series(labels));
  last_new_bytes = fresh(
      registry
          .gauge("sluice_checkpoint_last_new_bytes",
                 "Bytes the last completed checkpoint wrote (files linked from earlier ones excluded).", kJobLabels)
          .series(labels));
  last_completed_unix_us =
      fresh(registry
                .gauge("sluice_checkpoint_last_completed_timestamp_seconds",
                       "When the last checkpoint completed, in Unix seconds (0: none).", kJobLabels, kMicrosPerSecondD)
                .series(labels));
  restored_id = fresh(
      registry.gauge("sluice_checkpoint_restored_id", "The checkpoint the job resumed from (0: none).", kJobLabels)
          .series(labels));
}

SinkMetrics::SinkMetrics(MetricsRegistry& registry, const std::string& job, const std::string& table) {
  auto histogram = [&](const char* name, const char* help) {
    return fresh(registry.histogram(name, help, kSinkLabels, latency_bounds(), kMicrosPerSecondD).series({job, table}));
  };
  ingest_latency_us = histogram("sluice_sink_ingest_latency_seconds",
                                "End-to-end latency of the rows the sink committed: from the source's read of their "
                                "input to the sink's commit.");
  event_latency_us = histogram("sluice_sink_event_latency_seconds",
                               "Event-time latency of the rows the sink committed: from the event time of their "
                               "input to the sink's commit.");
}

SplitMetrics SourceMetrics::split(const std::string& split_id) const {
  const std::vector<std::string> labels = {job_, table, split_id};
  SplitMetrics m{};
  m.watermark = &registry_
                     ->gauge("sluice_split_watermark_seconds",
                             "Event-time watermark of one source split, in Unix seconds.", kSplitLabels,
                             kMicrosPerSecondD, kMinWatermark)
                     .series(labels);
  m.state = &registry_
                 ->gauge("sluice_split_state",
                         "State of one source split: 0 waiting, 1 active, 2 idle, 3 finished.", kSplitLabels)
                 .series(labels);
  m.reader = &registry_->gauge("sluice_split_reader", "The reader task (instance) reading the split.", kSplitLabels)
                  .series(labels);
  return m;
}

void CheckpointHistory::add(CheckpointRecord record) {
  std::lock_guard<std::mutex> lock(mu_);
  records_.push_back(std::move(record));
  if (records_.size() > capacity_) records_.pop_front();
  ++total_;
}

std::vector<CheckpointRecord> CheckpointHistory::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {records_.begin(), records_.end()};
}

uint64_t CheckpointHistory::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace sluice
