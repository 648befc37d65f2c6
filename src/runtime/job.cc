#include "runtime/job.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <functional>
#include <thread>

#include "common/hash.h"
#include "common/logging.h"
#include "runtime/channel.h"
#include "runtime/watermark_tracker.h"

namespace sluice {

const char* edge_kind_name(EdgeKind kind) {
  switch (kind) {
    case EdgeKind::kForward: return "forward";
    case EdgeKind::kHash: return "hash";
    case EdgeKind::kGather: return "gather";
  }
  return "?";
}

namespace {

// Output of the last operator of a task: sends to the downstream stage's channels.
class ChannelEmitter : public Output {
 public:
  struct Target {
    BoundedChannel* channel;
    int channel_id;
  };
  ChannelEmitter(EdgeKind kind, std::vector<Target> targets, std::vector<int> key_columns,
                 OperatorMetrics* metrics)
      : kind_(kind), targets_(std::move(targets)), keys_(std::move(key_columns)), metrics_(metrics) {
    partitions_.resize(targets_.size());
  }

  Status emit(BatchPtr batch) override {
    if (batch->num_rows == 0) return Status::ok();
    if (metrics_) metrics_->add_out(batch->num_rows);
    if (kind_ != EdgeKind::kHash || targets_.size() == 1) return send(0, std::move(batch));
    for (auto& p : partitions_) p.clear();
    const size_t n = batch->num_rows;
    hashes_.assign(n, 0);
    for (int k : keys_) {
      const Column& col = batch->column(static_cast<size_t>(k));
      for (size_t r = 0; r < n; ++r) hashes_[r] = hash_combine(hashes_[r], col.hash_row(r));
    }
    const int parallelism = static_cast<int>(targets_.size());
    for (size_t r = 0; r < n; ++r) {
      int target = instance_of_key_group(key_group_of(hashes_[r]), parallelism);
      partitions_[static_cast<size_t>(target)].push_back(static_cast<uint32_t>(r));
    }
    for (size_t t = 0; t < targets_.size(); ++t) {
      if (partitions_[t].empty()) continue;
      if (partitions_[t].size() == n) return send(t, std::move(batch));
      auto part = make_batch(batch->schema);
      part->append_gather(*batch, partitions_[t].data(), partitions_[t].size());
      RETURN_IF_ERROR(send(t, std::move(part)));
    }
    return Status::ok();
  }

  Status emit_watermark(Micros watermark) override {
    return broadcast(ElementKind::kWatermark, watermark);
  }
  Status emit_idle() { return broadcast(ElementKind::kIdle, kMinWatermark); }
  Status emit_end(uint64_t final_id) { return broadcast(ElementKind::kEnd, kMinWatermark, final_id); }
  Status emit_barrier(uint64_t id) { return broadcast(ElementKind::kBarrier, kMinWatermark, id); }
  void set_metrics(OperatorMetrics* metrics) { metrics_ = metrics; }

 private:
  Status send(size_t t, BatchPtr batch) {
    StreamElement e;
    e.kind = ElementKind::kBatch;
    e.channel = targets_[t].channel_id;
    e.batch = std::move(batch);
    if (!targets_[t].channel->push(std::move(e), metrics_ ? metrics_->blocked_ns : nullptr)) {
      return Status(StatusCode::kCancelled, "job stopping");
    }
    return Status::ok();
  }
  Status broadcast(ElementKind kind, Micros watermark, uint64_t barrier_id = 0) {
    for (const auto& t : targets_) {
      StreamElement e;
      e.kind = kind;
      e.channel = t.channel_id;
      e.watermark = watermark;
      e.barrier_id = barrier_id;
      if (!t.channel->push(std::move(e), nullptr)) return Status(StatusCode::kCancelled, "job stopping");
    }
    return Status::ok();
  }

  EdgeKind kind_;
  std::vector<Target> targets_;
  std::vector<int> keys_;
  OperatorMetrics* metrics_;
  std::vector<std::vector<uint32_t>> partitions_;
  std::vector<uint64_t> hashes_;
};

// The output of a task: one or more edges (a shared source feeds several pipelines).
class Fanout : public Output {
 public:
  void add(std::unique_ptr<ChannelEmitter> e) { edges_.push_back(std::move(e)); }
  Status emit(BatchPtr batch) override {
    for (size_t i = 0; i + 1 < edges_.size(); ++i) RETURN_IF_ERROR(edges_[i]->emit(batch));
    return edges_.back()->emit(std::move(batch));
  }
  Status emit_watermark(Micros watermark) override {
    for (auto& e : edges_) RETURN_IF_ERROR(e->emit_watermark(watermark));
    return Status::ok();
  }
  Status emit_idle() {
    for (auto& e : edges_) RETURN_IF_ERROR(e->emit_idle());
    return Status::ok();
  }
  Status emit_end(uint64_t final_id) {
    for (auto& e : edges_) RETURN_IF_ERROR(e->emit_end(final_id));
    return Status::ok();
  }
  Status emit_barrier(uint64_t id) {
    for (auto& e : edges_) RETURN_IF_ERROR(e->emit_barrier(id));
    return Status::ok();
  }
  // Records-out are counted once, on the first edge.
  void set_metrics(OperatorMetrics* metrics) { edges_.front()->set_metrics(metrics); }

 private:
  std::vector<std::unique_ptr<ChannelEmitter>> edges_;
};

// A sink chain has no downstream: anything emitted past the last operator is discarded
// (sinks emit nothing), watermarks end here.
class NullOutput : public Output {
 public:
  Status emit(BatchPtr) override { return Status::ok(); }
  Status emit_watermark(Micros) override { return Status::ok(); }
};

// Connects operator i to operator i+1 of a chain.
class ChainLink : public Output {
 public:
  ChainLink(Operator* next, Output* next_out, const OperatorMetrics& producer, const OperatorMetrics& consumer)
      : next_(next),
        next_out_(next_out),
        producer_out_(producer.records_out),
        consumer_in_(consumer.records_in),
        consumer_watermark_(consumer.watermark) {}
  Status emit(BatchPtr batch) override {
    if (batch->num_rows == 0) return Status::ok();
    producer_out_->add(batch->num_rows);
    consumer_in_->add(batch->num_rows);
    return next_->process(0, batch, *next_out_);
  }
  Status emit_watermark(Micros watermark) override {
    consumer_watermark_->set(watermark);
    return next_->on_watermark(watermark, *next_out_);
  }

 private:
  Operator* next_;
  Output* next_out_;
  Counter* producer_out_;
  Counter* consumer_in_;
  Gauge* consumer_watermark_;
};

}  // namespace

struct Job::Task {
  std::string name;
  int stage = 0;
  int instance = 0;
  const StageSpec* spec = nullptr;
  std::vector<std::unique_ptr<Operator>> ops;
  std::vector<OperatorMetrics*> op_metrics;
  std::vector<std::unique_ptr<Output>> links;
  std::unique_ptr<Fanout> emitter;
  NullOutput null_output;
  Output* head_output = nullptr;  // what op[0] emits into
  // Non-source tasks:
  std::unique_ptr<BoundedChannel> input;
  std::vector<int> channel_input;  // channel id -> logical input of the head operator
  // Source tasks:
  SourceMetrics* source_metrics = nullptr;
  // Source-side tasks of a table with a late-data output: the source task, and each reader
  // task of a source read by several pipelines (reader == true). They finish the batches'
  // RecordOrigins and sync the output before acknowledging a checkpoint.
  LateOutput* late = nullptr;
  bool reader = false;
  // Checkpoints: a state store per stateful operator (null for stateless ones), and the
  // newest completed checkpoint the operators were told about.
  std::vector<std::unique_ptr<InstanceStateStore>> stores;
  uint64_t notified = 0;
  std::thread thread;

  Output& tail_output() { return emitter ? static_cast<Output&>(*emitter) : null_output; }
};

Job::Job(JobSpec spec)
    : spec_(std::move(spec)),
      registry_(spec_.options.metrics ? spec_.options.metrics : std::make_shared<MetricsRegistry>()),
      clock_(spec_.options.clock ? spec_.options.clock : &SystemClock::instance()) {}

Job::~Job() {
  request_stop();
  for (auto& t : tasks_) {
    if (t->thread.joinable()) t->thread.join();
  }
}

void Job::request_stop() { stop_.store(true); }

void Job::fail(const Status& s) {
  {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (first_error_.is_ok() && s.code() != StatusCode::kCancelled) first_error_ = s;
  }
  request_stop();
}

std::vector<const SourceMetrics*> Job::source_metrics() const {
  std::vector<const SourceMetrics*> out;
  if (!built_.load(std::memory_order_acquire)) return out;
  for (const auto& m : source_metrics_) out.push_back(m.get());
  return out;
}

std::vector<const OperatorMetrics*> Job::operator_metrics() const {
  std::vector<const OperatorMetrics*> out;
  if (!built_.load(std::memory_order_acquire)) return out;
  for (const auto& m : operator_metrics_) out.push_back(m.get());
  return out;
}

Status Job::build() {
  const auto& stages = spec_.stages;
  // Instances of every stage, indexed [stage][instance] -> task index.
  std::vector<std::vector<Task*>> by_stage(stages.size());
  for (size_t s = 0; s < stages.size(); ++s) {
    const StageSpec& st = stages[s];
    if (st.parallelism < 1) return internal_error("stage {} has parallelism {}", st.name, st.parallelism);
    for (int i = 0; i < st.parallelism; ++i) {
      auto task = std::make_unique<Task>();
      task->name = fmt::format("{}[{}/{}]", st.name, i + 1, st.parallelism);
      task->stage = static_cast<int>(s);
      task->instance = i;
      task->spec = &st;
      by_stage[s].push_back(task.get());
      tasks_.push_back(std::move(task));
    }
  }
  // Channels: every non-source task has one input queue; each upstream instance that can
  // send to it gets a channel id there.
  for (size_t s = 0; s < stages.size(); ++s) {
    if (!stages[s].source) {
      for (Task* t : by_stage[s]) {
        t->input = std::make_unique<BoundedChannel>(spec_.options.channel_capacity, &stop_);
      }
    }
  }
  for (size_t s = 0; s < stages.size(); ++s) {
    const StageSpec& st = stages[s];
    struct Edge {
      int downstream;
      int input;
      EdgeKind kind;
      std::vector<int> keys;
    };
    std::vector<Edge> edges;
    if (st.downstream >= 0) edges.push_back({st.downstream, st.downstream_input, st.edge, st.key_columns});
    for (int d : st.also_forward_to) {
      edges.push_back({d, 0, EdgeKind::kForward, {}});
      for (Task* t : by_stage[static_cast<size_t>(d)]) {
        t->reader = true;
        if (st.source) t->late = st.source->late.get();
      }
    }
    for (const Edge& edge : edges) {
      const auto& targets = by_stage[static_cast<size_t>(edge.downstream)];
      if (edge.kind == EdgeKind::kForward && targets.size() != by_stage[s].size()) {
        return internal_error("forward edge {} -> {} with different parallelism", st.name,
                              stages[static_cast<size_t>(edge.downstream)].name);
      }
      for (Task* up : by_stage[s]) {
        std::vector<ChannelEmitter::Target> out;
        auto connect = [&](Task* down) {
          int id = static_cast<int>(down->channel_input.size());
          down->channel_input.push_back(edge.input);
          out.push_back({down->input.get(), id});
        };
        if (edge.kind == EdgeKind::kForward) {
          connect(targets[static_cast<size_t>(up->instance)]);
        } else if (edge.kind == EdgeKind::kGather) {
          connect(targets[0]);
        } else {
          for (Task* down : targets) connect(down);
        }
        if (!up->emitter) up->emitter = std::make_unique<Fanout>();
        up->emitter->add(std::make_unique<ChannelEmitter>(edge.kind, std::move(out), edge.keys, nullptr));
      }
    }
  }
  // Operators and chain links.
  for (auto& task : tasks_) {
    const StageSpec& st = *task->spec;
    for (size_t k = 0; k < st.chain.size(); ++k) {
      const auto& op_spec = st.chain[k];
      task->ops.push_back(op_spec->create());
      operator_metrics_.push_back(
          std::make_unique<OperatorMetrics>(*registry_, metrics_job(), op_spec->id, op_spec->kind(), task->instance));
      task->op_metrics.push_back(operator_metrics_.back().get());
    }
    if (st.source) {
      task->late = st.source->late.get();
      source_metrics_.push_back(
          std::make_unique<SourceMetrics>(*registry_, metrics_job(), st.source->table, task->instance));
      task->source_metrics = source_metrics_.back().get();
      if (task->late) task->late->count_into(task->instance, task->source_metrics->late);
    }
    // Wire op[k] -> op[k+1]; the last op -> emitter or nothing.
    if (task->emitter && !task->op_metrics.empty()) task->emitter->set_metrics(task->op_metrics.back());
    Output* next_out = &task->tail_output();
    for (size_t k = task->ops.size(); k-- > 1;) {
      task->links.push_back(std::make_unique<ChainLink>(task->ops[k].get(), next_out, *task->op_metrics[k - 1],
                                                        *task->op_metrics[k]));
      next_out = task->links.back().get();
    }
    task->head_output = next_out;
  }
  built_.store(true, std::memory_order_release);
  return Status::ok();
}

namespace {

// The source side of a task: poll, decode, dead-letter, event time, watermarks.
struct SourceLoop {
  const SourceStageSpec& src;
  int split;
  size_t batch_size;
  SourceMetrics* counters;
  OperatorMetrics* head_metrics;  // may be null when the chain is empty
  Operator* head;                 // may be null
  Output* head_output;            // where head emits (or the emitter when head is null)
  Fanout* emitter;                // may be null
  const std::atomic<bool>& stop;
  const Clock& clock;  // idle timeout, processing time for max_future_skew
  std::function<Status()> idle_tick;
  // Checkpoints (coordinator null: none). `checkpoint` snapshots the task's chain with the
  // split state and sends the barrier downstream.
  CheckpointCoordinator* coordinator = nullptr;
  std::function<Status(uint64_t, SourceSplitState)> checkpoint;
  std::function<Status()> notify_complete;  // tells the chain about completed checkpoints

  // Tasks that judge the rows of one poll for lateness: this one (its chain holds the late
  // filter) or the reader tasks of a source read by several pipelines.
  int late_consumers = 1;
  bool consumes_own_batches = true;

  Micros max_event_time = kMinWatermark;
  Micros watermark = kMinWatermark;
  Micros emitted_watermark = kMinWatermark;
  bool idle = false;
  uint64_t injected = 0;  // newest checkpoint id this split has taken part in
  bool at_end = false;
  uint64_t final_id = 0;  // set when run() returns for the final checkpoint

  SourceSplitState split_state(const SourceReader& reader) const {
    SourcePosition pos = reader.resume_position();
    SourceSplitState st;
    st.table = src.table;
    st.split = split;
    st.offset = pos.offset;
    st.line = pos.line;
    st.fingerprint = std::move(pos.fingerprint);
    st.watermark = watermark;
    st.max_event_time = max_event_time;
    return st;
  }
  // Resumes from a checkpoint: the reader was already moved to the recorded position.
  Status restore(const SourceSplitState& st) {
    watermark = st.watermark;
    max_event_time = st.max_event_time;
    if (watermark > kMinWatermark) {
      emitted_watermark = watermark;
      return push_watermark(watermark);
    }
    return Status::ok();
  }
  // Takes part in a triggered checkpoint between two polls. Returns true when the trigger
  // is the final checkpoint (the caller finishes the task).
  Result<bool> check_trigger(const SourceReader& reader) {
    uint64_t t = coordinator->trigger_id();
    if (t <= injected) return false;
    injected = t;
    if (t == coordinator->final_id()) {
      final_id = t;
      return true;
    }
    RETURN_IF_ERROR(checkpoint(t, split_state(reader)));
    return false;
  }

  Status push_batch(BatchPtr batch) {
    if (batch->num_rows == 0) return Status::ok();
    if (head) {
      head_metrics->add_in(batch->num_rows);
      return head->process(0, batch, *head_output);
    }
    return head_output->emit(std::move(batch));
  }
  Status push_watermark(Micros wm) {
    counters->watermark->set(wm);
    if (head) {
      head_metrics->watermark->set(wm);
      return head->on_watermark(wm, *head_output);
    }
    return head_output->emit_watermark(wm);
  }

  struct DeadLetterOrigin {
    int64_t offset;
    int64_t line;
  };
  Status dead_letter(const RawRecords& raw, size_t record, std::string_view error) {
    return dead_letter(DeadLetterOrigin{raw.offsets[record], raw.lines[record]}, error, raw.record(record));
  }
  Status dead_letter(DeadLetterOrigin origin, std::string_view error, std::string_view bytes) {
    DeadLetter letter;
    letter.source = src.table;
    letter.split = split;
    letter.offset = origin.offset;
    letter.line = origin.line;
    letter.error = error;
    letter.raw = bytes;
    counters->dead_lettered->increment();
    return src.dlq->write(letter);
  }

  // Dead-letters the records that failed to decode and the oversized ones the reader
  // skipped, in source order.
  Status dead_letter_failures(const RawRecords& raw, const std::vector<DecodeFailure>& failures) {
    size_t k = 0;
    for (const auto& f : failures) {
      for (; k < raw.oversized.size() && raw.oversized[k].offset < raw.offsets[f.record]; ++k) {
        RETURN_IF_ERROR(dead_letter_oversized(raw, k));
      }
      RETURN_IF_ERROR(dead_letter(raw, f.record, f.error));
    }
    for (; k < raw.oversized.size(); ++k) RETURN_IF_ERROR(dead_letter_oversized(raw, k));
    return Status::ok();
  }
  Status dead_letter_oversized(const RawRecords& raw, size_t k) {
    const OversizedRecord& r = raw.oversized[k];
    const std::string_view prefix = raw.oversized_prefix(k);
    std::string error = fmt::format("record exceeds max line length {} bytes ({} bytes; raw holds its first {})",
                                    r.limit_bytes, r.size_bytes, prefix.size());
    return dead_letter(DeadLetterOrigin{r.offset, r.line}, error, prefix);
  }

  Status run(SourceReader& reader, Decoder& decoder) {
    RawRecords raw;
    std::vector<DecodeFailure> failures;
    std::vector<uint32_t> keep, row_records;
    const int ts_col = src.event_time.column;
    const bool csv_header = src.factory->format().format == "csv" && src.factory->format().csv_header;
    Micros last_data = clock.monotonic_micros();
    while (!stop.load(std::memory_order_relaxed)) {
      if (coordinator) {
        RETURN_IF_ERROR(notify_complete());
        ASSIGN_OR_RETURN(bool final, check_trigger(reader));
        if (final) return Status::ok();
        if (at_end) {
          // Input exhausted: answer checkpoints at the end position until the final one.
          RETURN_IF_ERROR(idle_tick());
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          continue;
        }
      }
      raw.clear();
      auto polled = reader.poll(raw, batch_size);
      if (!polled.is_ok()) return polled.status().with_context(fmt::format("source {}", src.table));
      PollStatus ps = polled.value();
      if (ps == PollStatus::kData && (!raw.empty() || !raw.oversized.empty())) {
        raw.finish();
        last_data = clock.monotonic_micros();
        if (idle) idle = false;  // the next watermark re-activates the channel downstream
        // A CSV header (the record on line 1) describes the records; it is not one of them.
        const bool has_header = csv_header && !raw.empty() && raw.lines[0] == 1;
        counters->records->add(raw.size() + raw.oversized.size() - (has_header ? 1 : 0));
        counters->bytes->add(raw.data.size());
        auto batch = make_batch(src.schema);
        failures.clear();
        row_records.clear();
        Status decoded = decoder.decode(raw, *batch, failures, &row_records);
        if (!decoded.is_ok()) return decoded.with_context(fmt::format("table {}", src.table));
        RETURN_IF_ERROR(dead_letter_failures(raw, failures));
        std::shared_ptr<RecordOrigin> origin;
        if (src.late) {
          // Late rows are written out as their input records (formats/late_output.h).
          origin = std::make_shared<RecordOrigin>(src.late.get(), split, late_consumers);
          batch->origin = origin;
          batch->row_records = row_records;
        }
        if (ts_col >= 0 && batch->num_rows > 0) {
          RETURN_IF_ERROR(assign_event_time(raw, row_records, batch, keep));
        }
        if (origin && !consumes_own_batches) {
          origin->take(std::move(raw));  // reader tasks judge the rows later, on their threads
          raw = RawRecords();
        } else if (origin) {
          origin->borrow(raw);
        }
        RETURN_IF_ERROR(push_batch(std::move(batch)));
        if (origin && consumes_own_batches && origin->finish_consumer()) {
          RETURN_IF_ERROR(src.late->submit(*origin));
        }
        if (watermark > emitted_watermark) {
          emitted_watermark = watermark;
          RETURN_IF_ERROR(push_watermark(watermark));
        }
      } else if (ps == PollStatus::kEnd) {
        RETURN_IF_ERROR(push_watermark(kMaxWatermark));
        if (!coordinator) return Status::ok();
        at_end = true;
        coordinator->source_at_end();
      } else {
        RETURN_IF_ERROR(idle_tick());
        Micros timeout = src.event_time.idle_timeout;
        if (timeout > 0 && !idle && emitter && clock.monotonic_micros() - last_data > timeout) {
          idle = true;
          RETURN_IF_ERROR(emitter->emit_idle());
        }
      }
    }
    return Status(StatusCode::kCancelled, "stopped");
  }

  // Sets row_watermarks (the split watermark before each row) and advances the watermark
  // row by row, so lateness decisions do not depend on how rows were batched. Rows with a
  // NULL event time, and rows further ahead than max_future_skew (see EventTimeSpec), go to
  // the DLQ and do not move the watermark.
  Status assign_event_time(const RawRecords& raw, const std::vector<uint32_t>& row_records,
                           MutableBatchPtr& batch, std::vector<uint32_t>& keep) {
    const Column& ts = batch->column(static_cast<size_t>(src.event_time.column));
    const size_t n = batch->num_rows;
    batch->row_watermarks.resize(n);
    const Micros delay = src.event_time.watermark_delay;
    const Micros skew = src.event_time.max_future_skew;
    // Processing time, read once per batch (not per row: rows of one batch share it).
    const Micros now = skew >= 0 ? clock.unix_micros() : 0;
    future_.clear();
    bool any_null = false;
    for (size_t r = 0; r < n; ++r) {
      batch->row_watermarks[r] = watermark;
      if (ts.is_null(r)) {
        any_null = true;
        continue;
      }
      Micros t = ts.int_at(r);
      if (t > max_event_time) {
        if (skew >= 0) {
          Micros limit = 0;
          if (__builtin_add_overflow(std::max(max_event_time, now), skew, &limit)) limit = kMaxWatermark;
          if (t > limit) {
            future_.push_back(FutureRow{static_cast<uint32_t>(r), now, max_event_time});
            continue;
          }
        }
        max_event_time = t;
        Micros wm = (t < kMinWatermark + delay) ? kMinWatermark : t - delay;
        if (wm > watermark) watermark = wm;
      }
    }
    if (!any_null && future_.empty()) return Status::ok();
    const std::string& column = src.schema->field(static_cast<size_t>(src.event_time.column)).name;
    keep.clear();
    size_t f = 0;
    for (size_t r = 0; r < n; ++r) {
      if (ts.is_null(r)) {
        RETURN_IF_ERROR(dead_letter(raw, row_records[r], fmt::format("event time column '{}' is NULL", column)));
      } else if (f < future_.size() && future_[f].row == r) {
        const FutureRow& fr = future_[f++];
        std::string err = fmt::format(
            "event time column '{}' is {}, more than max_future_skew {} ahead of the processing time {}", column,
            format_timestamp(ts.int_at(r)), format_duration(skew), format_timestamp(fr.now));
        if (fr.max_event_time > fr.now) {
          err += fmt::format(" and of the latest event time {}", format_timestamp(fr.max_event_time));
        }
        RETURN_IF_ERROR(dead_letter(raw, row_records[r], err));
      } else {
        keep.push_back(static_cast<uint32_t>(r));
      }
    }
    auto filtered = make_batch(src.schema);
    filtered->append_gather(*batch, keep.data(), keep.size());
    batch = std::move(filtered);
    return Status::ok();
  }

  // A row dead-lettered by max_future_skew, with what it was compared to.
  struct FutureRow {
    uint32_t row;
    Micros now;
    Micros max_event_time;
  };
  std::vector<FutureRow> future_{};  // reused across batches
};

// Moves a source split to its recorded position, after checking that the position still
// refers to the split's input (a file rewritten since is refused; with
// --allow-changed-sources it is read from the start instead).
Status resume_split(const CheckpointCoordinator& coordinator, SourceReader& reader, SourceLoop& loop,
                    const SourceSplitState& st, bool allow_changed_sources) {
  const std::string what =
      fmt::format("cannot resume table {} (split {}) from checkpoint {}", st.table, st.split, coordinator.restored_id());
  SourcePosition pos{st.offset, st.line, st.fingerprint};
  Status fits = Status::ok();
  if (coordinator.source_changed(st.table) && pos.fingerprint.empty()) {
    fits = invalid_argument("the new input cannot be checked against the recorded position");
  } else {
    fits = reader.check_position(pos);
  }
  if (!fits.is_ok()) {
    if (!allow_changed_sources || fits.code() != StatusCode::kInvalidArgument) {
      return Status(fits.code(), fmt::format("{}: {} (--allow-changed-sources reads it from the start)", what,
                                             fits.message()));
    }
    log_warn("{}: {}: reading it from the start (--allow-changed-sources)", what, fits.message());
    return Status::ok();
  }
  RETURN_IF_ERROR(reader.seek(pos).with_context(what));
  return loop.restore(st);
}

}  // namespace

Status Job::run() {
  RETURN_IF_ERROR(build());
  if (spec_.options.checkpoint.enabled()) {
    std::map<std::string, int> operators;
    std::map<std::string, std::string> sources;  // table -> what it reads
    int num_sources = 0;
    for (const auto& st : spec_.stages) {
      if (st.source) {
        num_sources += st.parallelism;
        sources[st.source->table] = st.source->factory->identity();
      }
      for (const auto& op : st.chain) {
        if (!op->stateful()) continue;
        if (operators.count(op->id)) return internal_error("stateful operator {} appears in two stages", op->id);
        operators[op->id] = st.parallelism;
      }
    }
    auto coordinator = std::make_unique<CheckpointCoordinator>(spec_.options.checkpoint, spec_.name, operators,
                                                               static_cast<int>(tasks_.size()), num_sources,
                                                               std::move(sources));
    coordinator->use(*registry_, metrics_job(), *clock_);
    RETURN_IF_ERROR(coordinator->open());
    for (auto& task : tasks_) {
      for (const auto& op : task->spec->chain) {
        std::unique_ptr<InstanceStateStore> store;
        if (op->stateful()) {
          ASSIGN_OR_RETURN(store, coordinator->backend().open_instance(op->id, task->instance));
        }
        task->stores.push_back(std::move(store));
      }
      task->notified = coordinator->restored_id();
    }
    coordinator_ = std::move(coordinator);
    coordinator_->start([this](const Status& s) { fail(s); }, [this] { request_stop(); });
    coordinator_ready_.store(true);
    issue_pending_savepoint();
  }
  if (Status s = begin_side_outputs(); !s.is_ok()) {
    if (coordinator_) coordinator_->stop();
    return s;
  }
  const std::string log_context = log_job();  // task threads log as the job's thread does
  for (auto& task_ptr : tasks_) {
    Task* task = task_ptr.get();
    task->thread = std::thread([this, task, log_context] {
      ScopedLogJob log_job_context(log_context);
      Status s = Status::ok();
      OperatorContext ctx;
      ctx.instance = task->instance;
      ctx.parallelism = task->spec->parallelism;
      ctx.clock = clock_;
      if (coordinator_) {
        ctx.checkpoint =
            CheckpointContext{&coordinator_->completed(), &stop_, coordinator_->backend().incremental_snapshots(),
                              coordinator_->job_id(), coordinator_->job_id_created(),
                              spec_.options.checkpoint.start_over};
      }
      for (size_t k = 0; k < task->ops.size() && s.is_ok(); ++k) {
        ctx.metrics = task->op_metrics[k];
        s = task->ops[k]->open(ctx);
      }
      if (s.is_ok() && coordinator_) s = restore_task(*task);
      if (s.is_ok()) {
        if (task->spec->source) {
          const SourceStageSpec& src = *task->spec->source;
          auto reader = src.factory->create_reader(task->instance);
          auto decoder = make_decoder(src.factory->format(), src.schema);
          if (!reader.is_ok()) {
            s = reader.status();
          } else if (!decoder.is_ok()) {
            s = decoder.status().with_context(fmt::format("table {}", src.table));
          } else if (!(s = reader.value()->open()).is_ok()) {
          } else {
            SourceReader& rd = *reader.value();
            SourceLoop loop{src,
                            task->instance,
                            spec_.options.batch_size,
                            task->source_metrics,
                            task->op_metrics.empty() ? nullptr : task->op_metrics[0],
                            task->ops.empty() ? nullptr : task->ops[0].get(),
                            task->ops.empty() ? &task->tail_output() : task->head_output,
                            task->emitter.get(),
                            stop_,
                            *clock_,
                            [this, task] { return idle_tick(*task); },
                            nullptr,
                            nullptr,
                            nullptr};
            if (!task->spec->also_forward_to.empty()) {
              loop.consumes_own_batches = !task->ops.empty() || task->spec->downstream >= 0;
              loop.late_consumers = static_cast<int>(task->spec->also_forward_to.size()) +
                                    (loop.consumes_own_batches ? 1 : 0);
            }
            if (coordinator_) {
              loop.coordinator = coordinator_.get();
              loop.notify_complete = [this, task] { return notify_complete(*task); };
              loop.checkpoint = [this, task](uint64_t id, SourceSplitState st) {
                std::vector<SourceSplitState> sources;
                sources.push_back(std::move(st));
                RETURN_IF_ERROR(snapshot_task(*task, id, std::move(sources)));
                return task->emitter ? task->emitter->emit_barrier(id) : Status::ok();
              };
              if (auto st = coordinator_->source_state(src.table, task->instance)) {
                s = resume_split(*coordinator_, rd, loop, *st, spec_.options.checkpoint.allow_changed_sources);
              }
            }
            if (s.is_ok()) s = loop.run(rd, *decoder.value());
            if (s.is_ok()) {
              if (loop.final_id != 0) {
                // The final checkpoint records the end position; the chain finishes first so
                // what finish() emits is part of it.
                s = finish_chain(*task);
                if (s.is_ok()) {
                  std::vector<SourceSplitState> sources;
                  sources.push_back(loop.split_state(rd));
                  s = snapshot_task(*task, loop.final_id, std::move(sources));
                }
                if (s.is_ok()) s = end_task(*task, loop.final_id);
              } else {
                s = finish_task(*task, 0);
              }
            }
            Status c = rd.close();
            if (s.is_ok()) s = c;
            Status d = src.dlq->flush();
            if (s.is_ok()) s = d;
          }
        } else {
          s = run_operator_task(*task);
        }
      }
      for (auto& op : task->ops) {
        Status c = op->close();
        if (s.is_ok()) s = c;
      }
      if (!s.is_ok()) fail(s.code() == StatusCode::kCancelled ? s : s.with_context(task->name));
    });
  }
  for (auto& t : tasks_) t->thread.join();
  if (coordinator_) coordinator_->stop();
  for (LateOutput* late : late_outputs_) {
    Status s = late->stop();
    if (!s.is_ok()) fail(s.with_context("late-data output"));
  }
  std::lock_guard<std::mutex> lock(error_mu_);
  return first_error_;
}

// Side outputs follow the job's run: a fresh run (no checkpoint resumed) replaces what an
// earlier run left in its dead-letter queues and late-data outputs, a resumed run appends.
Status Job::begin_side_outputs() {
  const bool resumed = coordinator_ && coordinator_->restored_id() != 0;
  std::vector<DeadLetterQueue*> queues;
  for (const auto& st : spec_.stages) {
    if (!st.source) continue;
    queues.push_back(st.source->dlq.get());
    if (LateOutput* late = st.source->late.get()) {
      queues.push_back(&late->destination());
      if (std::find(late_outputs_.begin(), late_outputs_.end(), late) == late_outputs_.end()) {
        late_outputs_.push_back(late);
      }
    }
  }
  std::sort(queues.begin(), queues.end());
  queues.erase(std::unique(queues.begin(), queues.end()), queues.end());
  for (DeadLetterQueue* q : queues) RETURN_IF_ERROR(q->begin_run(resumed));
  for (LateOutput* late : late_outputs_) late->start();
  return Status::ok();
}

void Job::request_savepoint(bool stop) {
  // Remembered when the job is still starting (a savepoint asked for during start-up is not
  // dropped); a stop-with-savepoint request wins over a plain one.
  int want = stop ? 2 : 1;
  int have = pending_savepoint_.load();
  while (have < want && !pending_savepoint_.compare_exchange_weak(have, want)) {
  }
  if (coordinator_ready_.load()) issue_pending_savepoint();
}

void Job::issue_pending_savepoint() {
  int pending = pending_savepoint_.exchange(0);
  if (pending != 0) coordinator_->request_savepoint(pending == 2);
}

const CheckpointMetrics* Job::checkpoint_metrics() const {
  return coordinator_ready_.load() ? &coordinator_->metrics() : nullptr;
}

Status Job::restore_task(Task& task) {
  const uint64_t id = coordinator_->restored_id();
  for (size_t k = 0; k < task.ops.size(); ++k) {
    const auto& spec = task.spec->chain[k];
    if (!spec->stateful()) continue;
    std::unique_ptr<StateRestore> state;
    if (id != 0) {
      ASSIGN_OR_RETURN(state, coordinator_->restore_state(spec->id));
    }
    RETURN_IF_ERROR(task.ops[k]->restore(id, state.get()).with_context(fmt::format("restoring {}", spec->id)));
    if (state) task.stores[k]->mark_restored();
  }
  return Status::ok();
}

Status Job::snapshot_task(Task& task, uint64_t id, std::vector<SourceSplitState> sources) {
  // Side outputs are at-least-once: every entry of a record before this checkpoint is
  // written and flushed before the checkpoint can complete (a crash then replays only later
  // records). The last consumer of a poll submits its late entries before its snapshot.
  if (task.late) RETURN_IF_ERROR(task.late->sync().with_context("late-data output"));
  if (task.spec->source) RETURN_IF_ERROR(task.spec->source->dlq->flush());
  std::vector<CheckpointFile> files;
  std::vector<InstanceStateStore::Deferred> deferred;
  for (size_t k = 0; k < task.ops.size(); ++k) {
    if (!task.stores[k]) continue;
    Operator* op = task.ops[k].get();
    InstanceStateStore::Deferred rest;
    RETURN_IF_ERROR(task.stores[k]
                        ->snapshot_async(id, [op, id](StateWriter& w) { return op->snapshot(id, w); }, &files, &rest)
                        .with_context(fmt::format("checkpoint {} of {}", id, task.spec->chain[k]->id)));
    if (rest) deferred.push_back(std::move(rest));
  }
  coordinator_->ack(id, std::move(files), std::move(sources), std::move(deferred));
  return Status::ok();
}

Status Job::notify_complete(Task& task) {
  uint64_t done = coordinator_->completed().load(std::memory_order_acquire);
  if (done <= task.notified) return Status::ok();
  task.notified = done;
  for (auto& op : task.ops) RETURN_IF_ERROR(op->on_checkpoint_complete(done));
  return Status::ok();
}

Status Job::finish_task(Task& task, uint64_t final_id) {
  RETURN_IF_ERROR(finish_chain(task));
  if (final_id != 0) RETURN_IF_ERROR(snapshot_task(task, final_id, {}));
  return end_task(task, final_id);
}

Status Job::end_task(Task& task, uint64_t final_id) {
  if (task.emitter) RETURN_IF_ERROR(task.emitter->emit_end(final_id));
  if (final_id == 0) return Status::ok();
  if (!coordinator_->wait_completed(final_id, stop_)) return Status(StatusCode::kCancelled, "stopped");
  return notify_complete(task);
}

Status Job::idle_tick(Task& task) {
  for (size_t k = 0; k < task.ops.size(); ++k) {
    Output& op_out = (k + 1 < task.ops.size()) ? *task.links[task.links.size() - 1 - k] : task.tail_output();
    RETURN_IF_ERROR(task.ops[k]->on_idle_tick(op_out));
  }
  return Status::ok();
}

// Calls finish() on every operator in chain order; each may emit into the next.
Status Job::finish_chain(Task& task) {
  for (size_t k = 0; k < task.ops.size(); ++k) {
    // links were built back to front: links[i] feeds ops[n-1-i].
    Output& op_out = (k + 1 < task.ops.size()) ? *task.links[task.links.size() - 1 - k] : task.tail_output();
    RETURN_IF_ERROR(task.ops[k]->finish(op_out));
  }
  return Status::ok();
}

Status Job::run_operator_task(Task& task) {
  const size_t num_channels = task.channel_input.size();
  WatermarkTracker tracker(num_channels);
  Operator* head = task.ops.empty() ? nullptr : task.ops[0].get();
  OperatorMetrics* head_metrics = task.op_metrics.empty() ? nullptr : task.op_metrics[0];
  Output& out = head ? *task.head_output : task.tail_output();
  // Barrier alignment: after barrier N arrived on a channel, that channel is blocked and its
  // later elements are held (in order) until N arrived on every channel that has not ended.
  std::vector<std::deque<StreamElement>> held(num_channels);
  std::vector<uint8_t> blocked(num_channels, 0), ended(num_channels, 0);
  uint64_t aligning = 0;
  auto aligned = [&] {
    for (size_t c = 0; c < num_channels; ++c) {
      if (!blocked[c] && !ended[c]) return false;
    }
    return true;
  };
  auto complete_alignment = [&]() -> Status {
    RETURN_IF_ERROR(snapshot_task(task, aligning, {}));
    if (task.emitter) RETURN_IF_ERROR(task.emitter->emit_barrier(aligning));
    aligning = 0;
    std::fill(blocked.begin(), blocked.end(), 0);
    return Status::ok();
  };
  // The next element to process: held elements of unblocked channels first.
  auto next = [&](StreamElement* e) -> BoundedChannel::PopResult {
    for (size_t c = 0; c < num_channels; ++c) {
      if (!blocked[c] && !held[c].empty()) {
        *e = std::move(held[c].front());
        held[c].pop_front();
        return BoundedChannel::PopResult::kElement;
      }
    }
    while (true) {
      auto popped = task.input->pop_for(e, std::chrono::milliseconds(100));
      if (popped != BoundedChannel::PopResult::kElement) return popped;
      if (!blocked[static_cast<size_t>(e->channel)]) return popped;
      held[static_cast<size_t>(e->channel)].push_back(std::move(*e));
    }
  };
  StreamElement e;
  while (true) {
    if (coordinator_) RETURN_IF_ERROR(notify_complete(task));
    auto popped = next(&e);
    if (popped == BoundedChannel::PopResult::kStopped) break;
    if (popped == BoundedChannel::PopResult::kTimeout) {
      RETURN_IF_ERROR(idle_tick(task));
      continue;
    }
    switch (e.kind) {
      case ElementKind::kBatch: {
        // A reader task judges the poll's rows in its chain, then is done with its origin.
        std::shared_ptr<RecordOrigin> origin = task.reader ? e.batch->origin : nullptr;
        if (head) {
          head_metrics->add_in(e.batch->num_rows);
          RETURN_IF_ERROR(head->process(task.channel_input[static_cast<size_t>(e.channel)], e.batch, out));
        } else {
          RETURN_IF_ERROR(out.emit(std::move(e.batch)));
        }
        if (origin && origin->finish_consumer()) RETURN_IF_ERROR(origin->output()->submit(*origin));
        break;
      }
      case ElementKind::kWatermark:
      case ElementKind::kIdle:
      case ElementKind::kEnd: {
        Micros before = tracker.combined();
        if (e.kind == ElementKind::kWatermark) tracker.on_watermark(e.channel, e.watermark);
        if (e.kind == ElementKind::kIdle) tracker.on_idle(e.channel);
        if (e.kind == ElementKind::kEnd) {
          tracker.on_end(e.channel);
          ended[static_cast<size_t>(e.channel)] = 1;
        }
        Micros now = tracker.combined();
        if (now > before) {
          if (head) {
            head_metrics->watermark->set(now);
            RETURN_IF_ERROR(head->on_watermark(now, out));
          } else {
            RETURN_IF_ERROR(out.emit_watermark(now));
          }
        }
        if (tracker.all_idle() && task.emitter && e.kind == ElementKind::kIdle) {
          RETURN_IF_ERROR(task.emitter->emit_idle());
        }
        if (aligning != 0 && e.kind == ElementKind::kEnd && aligned()) RETURN_IF_ERROR(complete_alignment());
        if (tracker.all_ended()) return finish_task(task, e.barrier_id);
        break;
      }
      case ElementKind::kBarrier:
        if (!coordinator_) return internal_error("checkpoint barrier in a job without checkpoints");
        if (aligning != 0 && e.barrier_id != aligning) {
          return internal_error("barrier {} while aligning barrier {}", e.barrier_id, aligning);
        }
        aligning = e.barrier_id;
        blocked[static_cast<size_t>(e.channel)] = 1;
        if (aligned()) RETURN_IF_ERROR(complete_alignment());
        break;
    }
  }
  return Status(StatusCode::kCancelled, "stopped");
}

}  // namespace sluice
