#include "runtime/job.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <functional>
#include <thread>

#include "common/trace.h"
#include "common/hash.h"
#include "common/logging.h"
#include "runtime/channel.h"
#include "formats/metadata_columns.h"
#include "runtime/decode_pool.h"
#include "runtime/split_coordinator.h"
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

// Counts what an operator writes into a snapshot (the state-size gauge), passing it on.
class CountingStateWriter : public StateWriter {
 public:
  explicit CountingStateWriter(StateWriter& inner) : inner_(inner) {}
  bool incremental() const override { return inner_.incremental(); }
  void put(int key_group, std::string_view key, std::string_view value) override {
    bytes += key.size() + value.size();
    inner_.put(key_group, key, value);
  }
  void remove(int key_group, std::string_view key) override { inner_.remove(key_group, key); }
  void put_instance_state(std::string_view value) override {
    bytes += value.size();
    inner_.put_instance_state(value);
  }
  int64_t bytes = 0;

 private:
  StateWriter& inner_;
};

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
  // The sending task's timing stamp, sent with every batch (runtime/batch_timing.h).
  void set_timing(const BatchTiming* timing) { timing_ = timing; }

 private:
  Status send(size_t t, BatchPtr batch) {
    StreamElement e;
    e.kind = ElementKind::kBatch;
    e.channel = targets_[t].channel_id;
    e.batch = std::move(batch);
    if (timing_) e.timing = *timing_;
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
  const BatchTiming* timing_ = nullptr;
  std::vector<std::vector<uint32_t>> partitions_;
  std::vector<uint64_t> hashes_;
};

// The output of a task: one or more edges (a shared source feeds several pipelines), plus
// the side edges to side-output sink tables (dead letters, late rows). Batches of the chain
// go to the main edges only, side rows to their side edge; watermarks, idleness, barriers
// and the end go to every edge, so the side sinks align checkpoints like any sink.
class Fanout : public Output {
 public:
  void add(std::unique_ptr<ChannelEmitter> e) { edges_.push_back(std::move(e)); }
  void add_side(SideOutputKind kind, std::unique_ptr<ChannelEmitter> e) {
    side_[static_cast<size_t>(kind)] = e.get();
    sides_.push_back(std::move(e));
  }
  // The side edge of `kind`, or null.
  Output* side(SideOutputKind kind) const { return side_[static_cast<size_t>(kind)]; }
  Status emit(BatchPtr batch) override {
    if (edges_.empty()) return Status::ok();  // only side edges: the chain ends in a sink
    for (size_t i = 0; i + 1 < edges_.size(); ++i) RETURN_IF_ERROR(edges_[i]->emit(batch));
    return edges_.back()->emit(std::move(batch));
  }
  Status emit_watermark(Micros watermark) override {
    return each([&](ChannelEmitter& e) { return e.emit_watermark(watermark); });
  }
  Status emit_idle() {
    return each([](ChannelEmitter& e) { return e.emit_idle(); });
  }
  Status emit_end(uint64_t final_id) {
    return each([&](ChannelEmitter& e) { return e.emit_end(final_id); });
  }
  Status emit_barrier(uint64_t id) {
    return each([&](ChannelEmitter& e) { return e.emit_barrier(id); });
  }
  void set_timing(const BatchTiming* timing) {
    for (auto& e : edges_) e->set_timing(timing);
    for (auto& e : sides_) e->set_timing(timing);
  }
  // Records-out are counted once, on the first edge.
  void set_metrics(OperatorMetrics* metrics) {
    if (!edges_.empty()) edges_.front()->set_metrics(metrics);
  }

 private:
  template <typename F>
  Status each(F f) {
    for (auto& e : edges_) RETURN_IF_ERROR(f(*e));
    for (auto& e : sides_) RETURN_IF_ERROR(f(*e));
    return Status::ok();
  }

  std::vector<std::unique_ptr<ChannelEmitter>> edges_;
  std::vector<std::unique_ptr<ChannelEmitter>> sides_;
  Output* side_[2] = {nullptr, nullptr};  // by SideOutputKind
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
  // The stamp of the batch the task processes now, or processed last (runtime/batch_timing.h).
  BatchTiming timing;
  std::thread thread;
  // Wakes the task's input wait when an async operator has results (Operator::poll_async).
  struct Waker final : AsyncWaker {
    BoundedChannel* channel = nullptr;
    void wake() override {
      if (channel) channel->wake();
    }
  } waker;

  Output& tail_output() { return emitter ? static_cast<Output&>(*emitter) : null_output; }
  // Operators go first: an async operator's helper thread may wake the task (waker, input)
  // until the operator is destroyed.
  ~Task() { ops.clear(); }
};

Job::Job(JobSpec spec)
    : spec_(std::move(spec)),
      registry_(spec_.options.metrics ? spec_.options.metrics : std::make_shared<MetricsRegistry>()),
      clock_(spec_.options.clock ? spec_.options.clock : &SystemClock::instance()) {
  for (const auto& st : spec_.stages) {
    for (const auto& op : st.chain) {
      const std::string table = op->sink_table();
      if (!table.empty() && !taps_.count(table)) taps_[table] = std::make_unique<BatchTap>(table, op->sink_schema());
    }
  }
}

BatchTap* Job::tap(const std::string& table) const {
  auto it = taps_.find(table);
  return it == taps_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Job::tapped_tables() const {
  std::vector<std::string> out;
  for (const auto& [t, tap] : taps_) out.push_back(t);
  return out;
}

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
    // Side edges: every task of the stage -> the side-output sink (a gather edge; a hash
    // edge on every column when the sink has several writers).
    for (const auto& [kind, sink_stage] : {std::pair{SideOutputKind::kDeadLetters, st.dlq_stage},
                                           std::pair{SideOutputKind::kLateData, st.late_stage}}) {
      if (sink_stage < 0) continue;
      const auto& writers = by_stage[static_cast<size_t>(sink_stage)];
      std::vector<int> keys;
      if (writers.size() > 1) {
        for (size_t c = 0; c < side_output_schema(kind)->size(); ++c) keys.push_back(static_cast<int>(c));
      }
      for (Task* up : by_stage[s]) {
        std::vector<ChannelEmitter::Target> out;
        for (Task* down : writers) {
          out.push_back({down->input.get(), static_cast<int>(down->channel_input.size())});
          down->channel_input.push_back(0);
        }
        if (!up->emitter) up->emitter = std::make_unique<Fanout>();
        up->emitter->add_side(kind, std::make_unique<ChannelEmitter>(writers.size() > 1 ? EdgeKind::kHash
                                                                                        : EdgeKind::kGather,
                                                                     std::move(out), keys, nullptr));
      }
    }
  }
  // Operators and chain links.
  for (auto& task : tasks_) {
    const StageSpec& st = *task->spec;
    for (size_t k = 0; k < st.chain.size(); ++k) {
      const auto& op_spec = st.chain[k];
      // Source tasks never wait on a channel, so nothing would wake them for async results.
      if (op_spec->async() && st.source) {
        return internal_error("async operator {} chained into source stage {}", op_spec->id, st.name);
      }
      task->ops.push_back(op_spec->create());
      operator_metrics_.push_back(
          std::make_unique<OperatorMetrics>(*registry_, metrics_job(), op_spec->id, op_spec->kind(), task->instance));
      task->op_metrics.push_back(operator_metrics_.back().get());
    }
    if (st.source) {
      task->late = st.source->late.get();
      source_metrics_.push_back(
          std::make_unique<SourceMetrics>(*registry_, metrics_job(), st.source->table, task->instance,
                                          st.source->schema.get()));
      task->source_metrics = source_metrics_.back().get();
      if (task->late) {
        task->late->count_into(task->instance, task->source_metrics->late);
        task->late->record_into(recent_);
      }
    }
    for (const auto& op_spec : st.chain) {
      const std::string table = op_spec->sink_table();
      if (!table.empty() && !sink_metrics_.count(table)) {
        sink_metrics_[table] = std::make_unique<SinkMetrics>(*registry_, metrics_job(), table);
      }
    }
    // Wire op[k] -> op[k+1]; the last op -> emitter or nothing.
    if (task->emitter) task->emitter->set_timing(&task->timing);
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

// A reader task: reads the splits assigned to it (split_coordinator.h), decodes, dead-letters,
// assigns event time with one watermark per split and sends the minimum over its active
// splits downstream. Runs on the task's thread; only SplitCoordinator calls cross threads.
struct SourceLoop {
  const SourceStageSpec& src;
  int reader_index;
  size_t batch_size;
  SourceMetrics* counters;
  OperatorMetrics* head_metrics;  // may be null when the chain is empty
  Operator* head;                 // may be null
  Output* head_output;            // where head emits (or the emitter when head is null)
  Fanout* emitter;                // may be null
  const std::atomic<bool>& stop;
  const Clock& clock;  // idle timeout, processing time for max_future_skew
  std::function<Status()> idle_tick;
  SplitCoordinator* splits = nullptr;
  SourceContext context{};
  // Checkpoints (coordinator null: none). `checkpoint` snapshots the task's chain with the
  // split states and sends the barrier downstream.
  CheckpointCoordinator* coordinator = nullptr;
  std::function<Status(uint64_t, std::vector<SourceSplitState>, std::map<std::string, std::string>)> checkpoint{};
  std::function<Status()> notify_complete{};  // tells the chain about completed checkpoints
  bool allow_changed_sources = false;
  RecentLetters* recent = nullptr;  // the job's newest side-output entries (REST API)
  BatchTiming* timing = nullptr;     // the task's stamp: set per poll before its batch goes out

  // Tasks that judge the rows of one poll for lateness: this one (its chain holds the late
  // filter) or the reader tasks of a source read by several pipelines.
  int late_consumers = 1;
  bool consumes_own_batches = true;
  // Threads that decode this task's polls, its own included (JobOptions::decode_threads).
  // Above 1, a DecodePool decodes polls ahead while this thread consumes them in poll
  // order; every poll in flight is consumed (drained) before anything that depends on what
  // was emitted: a checkpoint, split changes, the end or idleness of a split.
  int decode_threads = 1;
  std::unique_ptr<DecodePool> pool{};

  // One assigned split. Its reader is created when the split starts: at once, or (sources
  // read in order) when the splits before it ended.
  struct Split {
    TrackedSplit t;
    std::unique_ptr<SourceReader> reader;
    bool started = false;
    bool idle = false;
    uint64_t finished_after = 0;  // the last checkpoint taken before it ended
    Micros last_data = 0;
    SplitMetrics m{};  // its series (REST watermarks, /metrics)
    void set_state(SplitMetrics::State st) { m.state->set(st); }
  };
  std::vector<std::unique_ptr<Split>> assigned{};  // in the order received
  size_t cursor = 0;                             // round robin over assigned splits
  size_t idle_polls = 0;                         // polls without data since the last data
  Micros emitted_watermark = kMinWatermark;
  bool idle_sent = false;  // the task told downstream it is idle
  uint64_t injected = 0;   // newest checkpoint id this task has taken part in
  uint64_t reader_notified = 0;  // newest completed checkpoint the split readers were told about
  bool at_end = false;
  uint64_t final_id = 0;  // set when run() returns for the final checkpoint

  std::vector<SourceSplitState> split_states(uint64_t id, std::map<std::string, std::string>* enumerators) {
    std::vector<SourceSplitState> out;
    auto add = [&](const TrackedSplit& t, SourceReader* reader) {
      if (reader) reader->note_checkpoint(id);
      SourceSplitState st;
      st.table = src.table;
      st.split_id = t.split.id;
      st.split = t.split.number;
      st.position = reader ? reader->checkpoint_position() : t.split.position;
      st.finished = t.finished;
      st.watermark = t.watermark;
      st.max_event_time = t.max_event_time;
      out.push_back(std::move(st));
    };
    for (const auto& s : assigned) add(s->t, s->reader.get());
    std::vector<TrackedSplit> also;
    std::optional<std::string> enumerator_state;
    splits->on_barrier(reader_index, id, &also, &enumerator_state);
    for (const auto& t : also) add(t, nullptr);
    if (enumerator_state) (*enumerators)[src.table] = std::move(*enumerator_state);
    return out;
  }
  // Takes part in a triggered checkpoint between two polls. Returns true when the trigger
  // is the final checkpoint (the caller finishes the task).
  Result<bool> check_trigger() {
    uint64_t t = coordinator->trigger_id();
    if (t <= injected) return false;
    // A reader whose position cannot be recorded yet (SourceReader::can_checkpoint()) holds
    // the barrier back; the final checkpoint comes only after every split ended.
    if (t != coordinator->final_id()) {
      for (const auto& s : assigned) {
        if (s->reader && !s->reader->can_checkpoint()) return false;
      }
    }
    injected = t;
    if (t == coordinator->final_id()) {
      final_id = t;
      return true;
    }
    std::map<std::string, std::string> enumerators;
    auto states = split_states(t, &enumerators);
    RETURN_IF_ERROR(checkpoint(t, std::move(states), std::move(enumerators)));
    return false;
  }
  Status notify_readers() {
    uint64_t done = coordinator->completed().load(std::memory_order_acquire);
    if (done <= reader_notified) return Status::ok();
    reader_notified = done;
    for (auto& s : assigned) {
      if (!s->reader) continue;
      RETURN_IF_ERROR(s->reader->on_checkpoint_complete(done).with_context(src.table));
      if (s->t.finished && done > s->finished_after) RETURN_IF_ERROR(close_reader(*s));
    }
    return Status::ok();
  }
  Status close_reader(Split& s) {
    Status closed = s.reader->close();
    s.reader.reset();
    return closed.with_context(fmt::format("source {}", src.table));
  }

  // Applies what the split coordinator has for this task: new splits, revocations.
  Status take_updates() {
    SplitCoordinator::Update update;
    RETURN_IF_ERROR(splits->poll(reader_index, &update));
    if (update.empty()) return Status::ok();
    // A split starts from the watermark emitted so far, a revoked one hands over its position:
    // both must see every poll read before them emitted.
    RETURN_IF_ERROR(drain_decoded());
    for (auto& t : update.added) {
      auto s = std::make_unique<Split>();
      s->t = std::move(t);
      s->m = counters->split(s->t.split.id);
      s->m.reader->set(reader_index);
      s->m.watermark->set(s->t.watermark);
      s->set_state(s->t.finished ? SplitMetrics::kFinished : SplitMetrics::kWaiting);
      // Splits read side by side start together (so each starts from its own watermark, not
      // from what the others reached); splits read in order start in turn (pick()).
      if (!src.factory->reads_splits_in_order() && !s->t.finished) {
        Status started = start(*s);
        if (!started.is_ok()) return started.with_context(fmt::format("source {}", src.table));
      }
      assigned.push_back(std::move(s));
    }
    for (const auto& id : update.revoke) {
      auto it = std::find_if(assigned.begin(), assigned.end(), [&](const auto& s) { return s->t.split.id == id; });
      if (it == assigned.end() || (*it)->t.finished) continue;  // gone or done: nothing to move
      Split& s = **it;
      if (s.reader) {
        s.t.split.position = s.reader->checkpoint_position();
        RETURN_IF_ERROR(s.reader->close().with_context(src.table));
      }
      TrackedSplit t = std::move(s.t);
      assigned.erase(it);
      cursor = 0;
      splits->give_back(reader_index, std::move(t));
    }
    return update_watermark(/*may_idle=*/false);
  }

  // The split to poll next; null when none can be read now.
  Split* pick() {
    const size_t n = assigned.size();
    if (src.factory->reads_splits_in_order()) {
      for (auto& s : assigned) {
        if (!s->t.finished) return s.get();
      }
      return nullptr;
    }
    for (size_t k = 0; k < n; ++k) {
      Split* s = assigned[(cursor + k) % n].get();
      if (!s->t.finished) {
        cursor = (cursor + k + 1) % n;
        return s;
      }
    }
    return nullptr;
  }

  // Opens the reader of a split that starts now, at its recorded position.
  Status start(Split& s) {
    s.started = true;
    s.last_data = clock.monotonic_micros();
    if (!s.t.restored) {
      // A split that starts now must not be behind what this task (or, if it was idle, any
      // reader of the table) sent downstream: its rows would join windows already fired.
      Micros floor = idle_sent ? std::max(emitted_watermark, splits->max_emitted_watermark()) : emitted_watermark;
      s.t.watermark = std::max(s.t.watermark, floor);
    }
    ASSIGN_OR_RETURN(s.reader, src.factory->create_split_reader(s.t.split));
    s.reader->attach(context);
    s.m.watermark->set(s.t.watermark);
    s.set_state(SplitMetrics::kActive);
    Status opened = s.reader->open();
    if (!opened.is_ok() && s.t.finished_before && opened.code() == StatusCode::kNotFound) {
      // Read to its end before and gone since (a processed log file cleaned up).
      s.reader.reset();
      s.t.finished = true;
      s.set_state(SplitMetrics::kFinished);
      return Status::ok();
    }
    RETURN_IF_ERROR(opened);
    if (s.t.split.position.empty()) return Status::ok();
    if (!s.t.restored) return s.reader->seek_checkpoint_position(s.t.split.position).with_context(src.table);
    return resume(s);
  }

  // Moves a restored split to its recorded position, after checking that the position still
  // refers to the split's input (a file rewritten since is refused; with
  // --allow-changed-sources it is read from the start instead).
  Status resume(Split& s) {
    const std::string what = fmt::format("cannot resume table {} (split {}) from checkpoint {}", src.table,
                                         s.t.split.id, coordinator ? coordinator->restored_id() : 0);
    Status fits = Status::ok();
    auto offset_pos = decode_offset_position(s.t.split.position);
    if (coordinator && coordinator->source_changed(src.table) && offset_pos && offset_pos->fingerprint.empty()) {
      fits = invalid_argument("the new input cannot be checked against the recorded position");
    } else {
      fits = s.reader->check_checkpoint_position(s.t.split.position);
    }
    if (!fits.is_ok()) {
      if (!allow_changed_sources || fits.code() != StatusCode::kInvalidArgument) {
        return Status(fits.code(), fmt::format("{}: {} (--allow-changed-sources reads it from the start)", what,
                                               fits.message()));
      }
      log_warn("{}: {}: reading it from the start (--allow-changed-sources)", what, fits.message());
      s.t.split.position.clear();
      s.t.watermark = s.t.max_event_time = kMinWatermark;
      return Status::ok();
    }
    return s.reader->seek_checkpoint_position(s.t.split.position).with_context(what);
  }

  // The task's watermark: the minimum over its started splits that are neither idle nor
  // finished. Sent when it advanced. With no such split the task holds it while splits wait
  // for their turn, and is idle downstream otherwise.
  // `may_idle`: false right after a split ended (a bounded task about to end must send its
  // final watermark, not "idle": downstream would release rows before the other inputs').
  Status update_watermark(bool may_idle = true) {
    Micros m = kMaxWatermark;
    bool any_active = false, any_waiting = false;
    for (const auto& s : assigned) {
      if (s->t.finished) continue;
      if (!s->started) {
        any_waiting = true;
      } else if (!s->idle) {
        any_active = true;
        m = std::min(m, s->t.watermark);
      }
    }
    if (any_active) {
      // Splits waiting for their turn (sources read in order) do not hold it back: each
      // starts at least at the watermark sent before it (start()).
      if (m > emitted_watermark) {
        emitted_watermark = m;
        idle_sent = false;
        splits->on_emitted_watermark(m);
        return push_watermark(m);
      }
      return Status::ok();
    }
    if (any_waiting || !may_idle) return Status::ok();
    // Every split idle, or none to read: downstream stops waiting for this task.
    if (!idle_sent && emitter) {
      idle_sent = true;
      return emitter->emit_idle();
    }
    return Status::ok();
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
  Status dead_letter(const Split& s, const RawRecords& raw, size_t record, std::string_view error) {
    if (raw.empty()) return dead_letter(s, DeadLetterOrigin{-1, -1}, error, std::string_view());  // typed rows
    DeadLetter letter =
        make_letter(s, DeadLetterOrigin{raw.offsets[record], raw.lines[record]}, error, raw.record(record));
    std::string_view key;
    if (!raw.metadata.empty()) {
      // A message source: the letter names topic, partition, key and headers besides the offset.
      const RecordMetadata& md = raw.metadata;
      key = md.key(record);
      letter.topic = md.topic;
      letter.partition = md.partitions[record];
      letter.key = md.has_key[record] ? &key : nullptr;
      letter_headers_.clear();
      append_headers_json(letter_headers_, md, record);
      letter.headers = letter_headers_;
    }
    return add_letter(letter);
  }
  DeadLetter make_letter(const Split& s, DeadLetterOrigin origin, std::string_view error, std::string_view bytes) {
    DeadLetter letter;
    letter.source = src.table;
    letter.split = s.t.split.number;
    letter.offset = origin.offset;
    letter.line = origin.line;
    letter.error = error;
    letter.raw = bytes;
    return letter;
  }
  Status dead_letter(const Split& s, DeadLetterOrigin origin, std::string_view error, std::string_view bytes) {
    return add_letter(make_letter(s, origin, error, bytes));
  }
  // Dead letters of a poll are collected as rows and handed over once per poll
  // (flush_letters): one write for the file/SQLite shorthands, one batch for a sink table.
  Status add_letter(const DeadLetter& letter) {
    counters->dead_lettered->increment();
    if (!letters) letters.emplace(SideOutputKind::kDeadLetters, src.dlq_message_columns);
    if (letters->empty()) letters_time = clock.unix_micros();  // read once per poll
    letters->add(letter, letters_time);
    return Status::ok();
  }
  Status flush_letters() {
    if (!letters || letters->empty()) return Status::ok();
    MutableBatchPtr rows = letters->take();
    if (recent) recent->add_rows(SideOutputKind::kDeadLetters, *rows);
    if (src.dlq) return src.dlq->write_rows(*rows);
    return emit_side(SideOutputKind::kDeadLetters, std::move(rows));
  }
  // Sends side-output rows through the task's side edge to their sink table.
  Status emit_side(SideOutputKind kind, BatchPtr rows) {
    Output* side = emitter ? emitter->side(kind) : nullptr;
    if (!side) return internal_error("source {}: no edge to its {} table", src.table, side_output_kind_name(kind));
    return side->emit(std::move(rows));
  }

  // Dead-letters the records that failed to decode, those refused for their event time
  // (`rejected`) and the oversized ones the reader skipped, in source order, so the
  // dead-letter queue does not depend on how records were batched. `failures` and
  // `rejected` are in record order.
  Status dead_letter_failures(const Split& s, const RawRecords& raw, const std::vector<DecodeFailure>& failures,
                              const std::vector<DecodeFailure>& rejected) {
    size_t k = 0, a = 0, b = 0;
    while (a < failures.size() || b < rejected.size()) {
      const bool from_failures =
          b == rejected.size() || (a < failures.size() && failures[a].record < rejected[b].record);
      const DecodeFailure& f = from_failures ? failures[a++] : rejected[b++];
      for (; k < raw.oversized.size() && raw.oversized[k].offset < raw.offsets[f.record]; ++k) {
        RETURN_IF_ERROR(dead_letter_oversized(s, raw, k));
      }
      RETURN_IF_ERROR(dead_letter(s, raw, f.record, f.error));
    }
    for (; k < raw.oversized.size(); ++k) RETURN_IF_ERROR(dead_letter_oversized(s, raw, k));
    return Status::ok();
  }
  Status dead_letter_oversized(const Split& s, const RawRecords& raw, size_t k) {
    const OversizedRecord& r = raw.oversized[k];
    const std::string_view prefix = raw.oversized_prefix(k);
    const std::string_view reason = raw.oversized_reason(k);  // input the source refused
    if (!reason.empty()) return dead_letter(s, DeadLetterOrigin{r.offset, r.line}, reason, prefix);
    std::string error = fmt::format("record exceeds max line length {} bytes ({} bytes; raw holds its first {})",
                                    r.limit_bytes, r.size_bytes, prefix.size());
    return dead_letter(s, DeadLetterOrigin{r.offset, r.line}, error, prefix);
  }

  // Emits the decoded polls of the pool in poll order. kAll: every poll read so far (waits
  // for their decoding); kOldest: the oldest one (waits), then those already decoded;
  // kReady: those already decoded, without waiting.
  enum class Drain { kAll, kOldest, kReady };
  Status drain_decoded(Drain mode = Drain::kAll) {
    if (!pool) return Status::ok();
    bool wait = mode != Drain::kReady;
    while (DecodePool::Chunk* chunk = pool->next(wait)) {
      wait = mode == Drain::kAll;
      Split& s = *static_cast<Split*>(chunk->tag);
      Status st = chunk->status.is_ok()
                      ? emit_poll(s, chunk->raw, std::move(chunk->batch), chunk->failures, chunk->row_records,
                                  chunk->polled_at_us)
                      : chunk->status.with_context(fmt::format("table {}", src.table));
      pool->release(chunk);
      RETURN_IF_ERROR(st);
    }
    return Status::ok();
  }

  // Emits one decoded poll of split `s`, in poll order: dead letters, event time and per-row
  // watermarks, the late-data origin, the chain, the watermark. `raw` is empty for a source
  // of typed rows (`batch` came from poll_rows()).
  Status emit_poll(Split& s, RawRecords& raw, MutableBatchPtr batch, const std::vector<DecodeFailure>& failures,
                   std::vector<uint32_t>& row_records, Micros polled_at) {
    std::shared_ptr<RecordOrigin> origin;
    if (!failures.empty()) counters->schema_violations->add(failures.size());
    if (typed_rows) {
      counters->records->add(batch->num_rows);
      row_records.clear();
    } else {
      // A CSV header (the record on line 1) describes the records; it is not one of them.
      const bool has_header = csv_header && !raw.empty() && raw.lines[0] == 1;
      counters->records->add(raw.size() + raw.oversized.size() - (has_header ? 1 : 0));
      counters->bytes->add(raw.data.size());
      if (src.late) {
        // Late rows are written out as their input records (formats/late_output.h).
        origin = std::make_shared<RecordOrigin>(src.late.get(), s.t.split.number, late_consumers);
        batch->origin = origin;
        batch->row_records = row_records;
      }
    }
    rejected_.clear();
    min_event_time_ = kMaxWatermark;
    if (src.event_time.column >= 0 && batch->num_rows > 0) {
      RETURN_IF_ERROR(assign_event_time(s, raw, row_records, batch, keep_, rejected_));
    }
    if (timing) {
      *timing = BatchTiming{polled_at, min_event_time_ == kMaxWatermark ? kMinWatermark : min_event_time_, {}};
      Tracer& tracer = Tracer::global();
      if (tracer.enabled() && batch->num_rows > 0 && tracer.sample()) {
        // A traced poll: its root span, from the poll to the rows' emission.
        timing->trace = Tracer::start_trace();
        tracer.record(SpanRecord{timing->trace.trace_hi, timing->trace.trace_lo, timing->trace.span, 0,
                                 "source " + src.table, polled_at, SystemClock::instance().unix_micros(),
                                 {{"sluice.split", s.t.split.id}, {"sluice.rows", std::to_string(batch->num_rows)}}});
      }
    }
    if (s.t.max_event_time > newest_event_time_) {
      newest_event_time_ = s.t.max_event_time;
      counters->newest_event->set(newest_event_time_);
    }
    update_freshness(polled_at);
    RETURN_IF_ERROR(dead_letter_failures(s, raw, failures, rejected_));
    if (origin && !consumes_own_batches) {
      origin->take(std::move(raw));  // reader tasks judge the rows later, on their threads
      raw = RawRecords();
    } else if (origin) {
      origin->borrow(raw);
    }
    RETURN_IF_ERROR(flush_letters());
    counters->count_rows(*batch);
    RETURN_IF_ERROR(push_batch(std::move(batch)));
    if (origin && consumes_own_batches && origin->finish_consumer()) {
      ASSIGN_OR_RETURN(BatchPtr late_rows, src.late->submit(*origin, clock.unix_micros()));
      if (late_rows) RETURN_IF_ERROR(emit_side(SideOutputKind::kLateData, std::move(late_rows)));
    }
    if (s.t.watermark > emitted_watermark) RETURN_IF_ERROR(update_watermark());
    return Status::ok();
  }

  Status run(Decoder* decoder) {
    RawRecords raw;
    std::vector<DecodeFailure> failures;
    std::vector<uint32_t> row_records;
    csv_header = src.factory->format().format == "csv" && src.factory->format().csv_header;
    typed_rows = src.factory->produces_rows();
    if (decode_threads > 1 && !typed_rows) {
      // Enough polls in flight that every decoding thread has one while this thread emits.
      const size_t depth = 2 * static_cast<size_t>(decode_threads);
      ASSIGN_OR_RETURN(pool, DecodePool::create(src.factory->format(), src.schema, decoder, decode_threads - 1, depth));
    }
    while (!stop.load(std::memory_order_relaxed)) {
      if (coordinator) {
        RETURN_IF_ERROR(notify_complete());
        RETURN_IF_ERROR(notify_readers());
        // A checkpoint records the positions of what was read: all of it must be emitted.
        if (coordinator->trigger_id() > injected) RETURN_IF_ERROR(drain_decoded());
        ASSIGN_OR_RETURN(bool final, check_trigger());
        if (final) return Status::ok();
        if (at_end) {
          // Input exhausted: answer checkpoints at the end position until the final one.
          RETURN_IF_ERROR(idle_tick());
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          continue;
        }
      }
      RETURN_IF_ERROR(take_updates());
      Split* s = pick();
      if (!s) {
        RETURN_IF_ERROR(drain_decoded());
        if (splits->try_finish(reader_index)) {
          RETURN_IF_ERROR(push_watermark(kMaxWatermark));
          if (!coordinator) return Status::ok();
          at_end = true;
          coordinator->source_at_end();
          continue;
        }
        // Nothing to read now; splits may come (discovery, a rebalance).
        RETURN_IF_ERROR(update_watermark());
        RETURN_IF_ERROR(idle_tick());
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (!s->started) {
        RETURN_IF_ERROR(drain_decoded());  // it starts from the watermark emitted so far
        Status started = start(*s);
        if (!started.is_ok()) return started.with_context(fmt::format("source {}", src.table));
        if (s->t.finished) continue;  // gone since it was read to its end
        RETURN_IF_ERROR(update_watermark());
      }
      // The poll goes into a free chunk of the pool (after emitting the oldest when all are
      // in flight), or into `raw` when this thread decodes alone.
      RawRecords* in = &raw;
      DecodePool::Chunk* chunk = nullptr;
      if (pool) {
        chunk = pool->acquire();
        if (!chunk) {
          RETURN_IF_ERROR(drain_decoded(Drain::kOldest));
          chunk = pool->acquire();
        }
        in = &chunk->raw;
      } else {
        raw.clear();
      }
      MutableBatchPtr batch;
      Result<PollStatus> polled = PollStatus::kIdle;
      if (typed_rows) {
        batch = make_batch(src.schema);
        polled = s->reader->poll_rows(*batch, batch_size);
      } else {
        polled = s->reader->poll(*in, batch_size);
      }
      if (!polled.is_ok()) return polled.status().with_context(fmt::format("source {}", src.table));
      PollStatus ps = polled.value();
      const bool got = typed_rows ? batch->num_rows > 0 : (!in->empty() || !in->oversized.empty());
      if (ps == PollStatus::kData && got) {
        idle_polls = 0;
        s->last_data = clock.monotonic_micros();
        if (s->idle) {
          s->idle = false;  // the next watermark re-activates the channel downstream
          s->set_state(SplitMetrics::kActive);
        }
        const Micros polled_at = clock.unix_micros();  // ingestion time of the poll's records
        if (typed_rows) {
          RETURN_IF_ERROR(emit_poll(*s, raw, std::move(batch), failures, row_records, polled_at));
        } else if (pool) {
          in->finish();
          if (decoder->changes_state(*in)) {
            // Every decoder sees it (a CSV header) before decoding the records after it.
            RETURN_IF_ERROR(drain_decoded());
            RETURN_IF_ERROR(pool->share_state(*in).with_context(fmt::format("table {}", src.table)));
          }
          chunk->tag = s;
          chunk->polled_at_us = polled_at;
          pool->submit(chunk);
          RETURN_IF_ERROR(drain_decoded(Drain::kReady));
        } else {
          raw.finish();
          batch = make_batch(src.schema);
          failures.clear();
          row_records.clear();
          Status decoded = decoder->decode(raw, *batch, failures, &row_records);
          if (!decoded.is_ok()) return decoded.with_context(fmt::format("table {}", src.table));
          RETURN_IF_ERROR(emit_poll(*s, raw, std::move(batch), failures, row_records, polled_at));
        }
      } else {
        // The end or a pause of this split: what was read before it is emitted first.
        RETURN_IF_ERROR(drain_decoded());
        if (ps == PollStatus::kEnd) {
          s->t.split.position = s->reader->checkpoint_position();
          s->t.finished = true;
          s->set_state(SplitMetrics::kFinished);
          s->finished_after = injected;
          // With checkpoints the reader stays open until a checkpoint recording its end is
          // complete, so it can acknowledge its last records (notify_readers()).
          if (!coordinator) RETURN_IF_ERROR(close_reader(*s));
          RETURN_IF_ERROR(update_watermark(/*may_idle=*/false));
        } else {
          // A whole round of splits without data: wait a little (readers that wait in poll()
          // themselves have done so already).
          if (++idle_polls >= assigned.size()) {
            idle_polls = 0;
            update_freshness(clock.unix_micros());  // the newest event ages while nothing arrives
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          RETURN_IF_ERROR(idle_tick());
          Micros timeout = src.event_time.idle_timeout;
          if (timeout > 0 && !s->idle && emitter && clock.monotonic_micros() - s->last_data > timeout) {
            s->idle = true;
            s->set_state(SplitMetrics::kIdle);
            RETURN_IF_ERROR(update_watermark());
          }
        }
      }
    }
    return Status(StatusCode::kCancelled, "stopped");
  }

  Status close_all() {
    Status result = Status::ok();
    for (auto& s : assigned) {
      if (!s->reader) continue;
      Status c = s->reader->close();
      if (result.is_ok()) result = c;
    }
    return result;
  }

  // Sets row_watermarks (the split watermark before each row) and advances the split's
  // watermark row by row, so lateness decisions do not depend on how rows were batched.
  // Rows with a NULL event time, and rows further ahead than max_future_skew (see
  // EventTimeSpec), are left out and listed in `rejected` (by record, for the DLQ); they do
  // not move the watermark.
  Status assign_event_time(Split& s, const RawRecords& raw, const std::vector<uint32_t>& row_records,
                           MutableBatchPtr& batch, std::vector<uint32_t>& keep, std::vector<DecodeFailure>& rejected) {
    const Column& ts = batch->column(static_cast<size_t>(src.event_time.column));
    const size_t n = batch->num_rows;
    batch->row_watermarks.resize(n);
    const Micros delay = src.event_time.watermark_delay;
    const Micros skew = src.event_time.max_future_skew;
    // Processing time, read once per batch (not per row: rows of one batch share it).
    const Micros now = skew >= 0 ? clock.unix_micros() : 0;
    Micros watermark = s.t.watermark;
    Micros max_event_time = s.t.max_event_time;
    future_.clear();
    bool any_null = false;
    for (size_t r = 0; r < n; ++r) {
      batch->row_watermarks[r] = watermark;
      if (ts.is_null(r)) {
        any_null = true;
        continue;
      }
      Micros t = ts.int_at(r);
      if (t < min_event_time_) min_event_time_ = t;
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
    s.t.watermark = watermark;
    s.m.watermark->set(watermark);
    s.t.max_event_time = max_event_time;
    if (!any_null && future_.empty()) return Status::ok();
    const std::string& column = src.schema->field(static_cast<size_t>(src.event_time.column)).name;
    keep.clear();
    size_t f = 0;
    for (size_t r = 0; r < n; ++r) {
      const size_t record = raw.empty() ? r : row_records[r];
      if (ts.is_null(r)) {
        rejected.push_back(DecodeFailure{static_cast<uint32_t>(record), fmt::format("event time column '{}' is NULL", column)});
      } else if (f < future_.size() && future_[f].row == r) {
        const FutureRow& fr = future_[f++];
        std::string err = fmt::format(
            "event time column '{}' is {}, more than max_future_skew {} ahead of the processing time {}", column,
            format_timestamp(ts.int_at(r)), format_duration(skew), format_timestamp(fr.now));
        if (fr.max_event_time > fr.now) {
          err += fmt::format(" and of the latest event time {}", format_timestamp(fr.max_event_time));
        }
        rejected.push_back(DecodeFailure{static_cast<uint32_t>(record), std::move(err)});
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
  std::vector<uint32_t> keep_{};     // reused across batches
  std::vector<DecodeFailure> rejected_{};  // reused across batches
  bool csv_header = false;           // set by run()
  bool typed_rows = false;           // set by run(): the source produces rows, not bytes
  // The dead letters of the current poll (dead_letter(), flush_letters()).
  // (Made on first use: a member that allocates when the loop is built trips GCC's
  // maybe-uninitialized warning on the aggregate initialization.)
  std::optional<SideOutputRows> letters{};
  Micros letters_time = 0;
  std::string letter_headers_{};  // reused: the headers of a message source's letter as JSON
  Micros min_event_time_ = kMaxWatermark;  // of the poll being emitted (assign_event_time)
  Micros newest_event_time_ = kMinWatermark;  // over every split this task read

  void update_freshness(Micros now) {
    if (newest_event_time_ != kMinWatermark) counters->freshness->set(std::max<Micros>(0, now - newest_event_time_));
  }
};

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
  if (Status s = start_split_coordinators(); !s.is_ok()) {
    if (coordinator_) coordinator_->stop();
    return s;
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
      ScopedLogOperator log_operator_context(task->name);
      Status s = Status::ok();
      OperatorContext ctx;
      ctx.instance = task->instance;
      ctx.parallelism = task->spec->parallelism;
      ctx.clock = clock_;
      if (coordinator_) {
        ctx.checkpoint =
            CheckpointContext{&coordinator_->completed(), &stop_, coordinator_->backend().incremental_snapshots(),
                              coordinator_->job_id(), coordinator_->job_id_created(),
                              spec_.options.checkpoint.start_over, coordinator_->resolved_dir()};
      }
      for (size_t k = 0; k < task->ops.size() && s.is_ok(); ++k) {
        ctx.metrics = task->op_metrics[k];
        ctx.tap = tap(task->spec->chain[k]->sink_table());
        ctx.timing = &task->timing;
        ctx.output_timing = &task->timing;
        ctx.registry = registry_.get();
        ctx.metrics_job = metrics_job();
        task->waker.channel = task->input.get();
        ctx.waker = &task->waker;
        auto sink = sink_metrics_.find(task->spec->chain[k]->sink_table());
        ctx.sink_metrics = sink == sink_metrics_.end() ? nullptr : sink->second.get();
        s = task->ops[k]->open(ctx);
      }
      if (s.is_ok() && coordinator_) s = restore_task(*task);
      if (s.is_ok()) {
        if (task->spec->source) {
          const SourceStageSpec& src = *task->spec->source;
          std::unique_ptr<Decoder> decoder;
          if (!src.factory->produces_rows()) {
            auto made = make_decoder(src.factory->format(), src.schema);
            if (made.is_ok()) {
              decoder = std::move(made).value();
            } else {
              s = made.status().with_context(fmt::format("table {}", src.table));
            }
          }
          if (s.is_ok()) {
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
                            [this, task] { return idle_tick(*task); }};
            loop.splits = split_coordinators_.at(&src).get();
            loop.decode_threads = std::max(1, spec_.options.decode_threads / task->spec->parallelism);
            loop.recent = recent_.get();
            loop.timing = &task->timing;
            loop.context.table = src.table;
            loop.context.reader = task->instance;
            loop.context.readers = task->spec->parallelism;
            loop.context.job = metrics_job();
            loop.context.metrics = registry_.get();
            loop.context.clock = clock_;
            loop.context.retry = &spec_.options.source_retry;
            loop.context.checkpoints = coordinator_ != nullptr;
            if (!task->spec->also_forward_to.empty()) {
              loop.consumes_own_batches = !task->ops.empty() || task->spec->downstream >= 0;
              loop.late_consumers = static_cast<int>(task->spec->also_forward_to.size()) +
                                    (loop.consumes_own_batches ? 1 : 0);
            }
            if (coordinator_) {
              loop.coordinator = coordinator_.get();
              loop.allow_changed_sources = spec_.options.checkpoint.allow_changed_sources;
              loop.notify_complete = [this, task] { return notify_complete(*task); };
              loop.checkpoint = [this, task](uint64_t id, std::vector<SourceSplitState> sources,
                                             std::map<std::string, std::string> enumerators) {
                RETURN_IF_ERROR(snapshot_task(*task, id, std::move(sources), std::move(enumerators)));
                return task->emitter ? task->emitter->emit_barrier(id) : Status::ok();
              };
            }
            s = loop.run(decoder.get());
            if (s.is_ok()) {
              if (loop.final_id != 0) {
                // The final checkpoint records the end positions; the chain finishes first so
                // what finish() emits is part of it.
                s = finish_chain(*task);
                if (s.is_ok()) {
                  std::map<std::string, std::string> enumerators;
                  auto states = loop.split_states(loop.final_id, &enumerators);
                  s = snapshot_task(*task, loop.final_id, std::move(states), std::move(enumerators));
                }
                if (s.is_ok()) s = end_task(*task, loop.final_id);
                if (s.is_ok()) s = loop.notify_readers();  // the final checkpoint is durable too
              } else {
                s = finish_task(*task, 0);
              }
            }
            Status c = loop.close_all();
            if (s.is_ok()) s = c;
            Status d = src.dlq ? src.dlq->flush() : Status::ok();
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

// One split coordinator per source table: its enumerator restored from the checkpoint (if
// any), the restored and first discovered splits assigned to the reader tasks.
Status Job::start_split_coordinators() {
  for (const auto& st : spec_.stages) {
    if (!st.source) continue;
    const SourceStageSpec& src = *st.source;
    if (src.factory->produces_rows() && src.late) {
      return unsupported("table {}: a source of typed changelog rows cannot have a late-data output yet", src.table);
    }
    ASSIGN_OR_RETURN(std::unique_ptr<SplitEnumerator> enumerator, src.factory->create_enumerator());
    const uint64_t restored_id = coordinator_ ? coordinator_->restored_id() : 0;
    auto splits = std::make_unique<SplitCoordinator>(src.table, std::move(enumerator), st.parallelism,
                                                     src.factory->bounded(), restored_id);
    std::vector<TrackedSplit> restored;
    std::optional<std::string> enumerator_state;
    if (coordinator_) {
      for (auto& state : coordinator_->source_states(src.table)) {
        TrackedSplit t;
        t.split = SourceSplit{std::move(state.split_id), state.split, std::move(state.position)};
        t.watermark = state.watermark;
        t.max_event_time = state.max_event_time;
        t.finished_before = state.finished;
        restored.push_back(std::move(t));
      }
      enumerator_state = coordinator_->enumerator_state(src.table);
    }
    RETURN_IF_ERROR(splits->start(std::move(restored), std::move(enumerator_state)));
    split_coordinators_[&src] = std::move(splits);
  }
  return Status::ok();
}

// Side outputs follow the job's run: a fresh run (no checkpoint resumed) replaces what an
// earlier run left in its dead-letter queues and late-data outputs, a resumed run appends.
Status Job::begin_side_outputs() {
  const bool resumed = coordinator_ && coordinator_->restored_id() != 0;
  std::vector<DeadLetterQueue*> queues;
  for (const auto& st : spec_.stages) {
    if (!st.source) continue;
    if (st.source->dlq) queues.push_back(st.source->dlq.get());
    if (LateOutput* late = st.source->late.get()) {
      if (late->destination()) queues.push_back(late->destination());
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

Status Job::snapshot_task(Task& task, uint64_t id, std::vector<SourceSplitState> sources,
                          std::map<std::string, std::string> enumerators) {
  // Side outputs are at-least-once: every entry of a record before this checkpoint is
  // written and flushed before the checkpoint can complete (a crash then replays only later
  // records). The last consumer of a poll submits its late entries before its snapshot.
  if (task.late) RETURN_IF_ERROR(task.late->sync().with_context("late-data output"));
  if (task.spec->source && task.spec->source->dlq) RETURN_IF_ERROR(task.spec->source->dlq->flush());
  std::vector<CheckpointFile> files;
  std::vector<InstanceStateStore::Deferred> deferred;
  for (size_t k = 0; k < task.ops.size(); ++k) {
    if (!task.stores[k]) continue;
    Operator* op = task.ops[k].get();
    InstanceStateStore::Deferred rest;
    int64_t written = 0;
    RETURN_IF_ERROR(task.stores[k]
                        ->snapshot_async(
                            id,
                            [op, id, &written](StateWriter& w) {
                              CountingStateWriter counting(w);
                              Status s = op->snapshot(id, counting);
                              written = counting.bytes;
                              return s;
                            },
                            &files, &rest)
                        .with_context(fmt::format("checkpoint {} of {}", id, task.spec->chain[k]->id)));
    if (k < task.op_metrics.size() && task.op_metrics[k]) task.op_metrics[k]->state_snapshot_bytes->set(written);
    if (rest) deferred.push_back(std::move(rest));
  }
  coordinator_->ack(id, std::move(files), std::move(sources), std::move(deferred), std::move(enumerators));
  return Status::ok();
}

Status Job::submit_late(Task& task, const RecordOrigin& origin) {
  ASSIGN_OR_RETURN(BatchPtr rows, origin.output()->submit(origin, clock_->unix_micros()));
  if (!rows) return Status::ok();
  Output* side = task.emitter ? task.emitter->side(SideOutputKind::kLateData) : nullptr;
  if (!side) return internal_error("{}: no edge to the late-data table {}", task.name, origin.output()->sink_table());
  return side->emit(std::move(rows));
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
  update_state_gauges(task);
  if (task.emitter) RETURN_IF_ERROR(task.emitter->emit_end(final_id));
  if (final_id == 0) return Status::ok();
  if (!coordinator_->wait_completed(final_id, stop_)) return Status(StatusCode::kCancelled, "stopped");
  return notify_complete(task);
}

// The state-size gauges of the task's operators (O(1) each; between elements).
void Job::update_state_gauges(Task& task) {
  for (size_t k = 0; k < task.ops.size() && k < task.op_metrics.size(); ++k) {
    if (task.op_metrics[k]) task.op_metrics[k]->state_entries->set(task.ops[k]->state_entries());
  }
}


// Lets async operators emit what completed (operator tasks only; see runtime/operator.h).
Status Job::poll_async(Task& task) {
  for (size_t k = 0; k < task.ops.size(); ++k) {
    if (!task.ops[k]->has_async_work()) continue;
    Output& op_out = (k + 1 < task.ops.size()) ? *task.links[task.links.size() - 1 - k] : task.tail_output();
    RETURN_IF_ERROR(task.ops[k]->poll_async(op_out));
  }
  return Status::ok();
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
    update_state_gauges(task);
    RETURN_IF_ERROR(poll_async(task));
    auto popped = next(&e);
    if (popped == BoundedChannel::PopResult::kStopped) break;
    if (popped == BoundedChannel::PopResult::kWoken) continue;  // async results: polled above
    if (popped == BoundedChannel::PopResult::kTimeout) {
      RETURN_IF_ERROR(idle_tick(task));
      continue;
    }
    switch (e.kind) {
      case ElementKind::kBatch: {
        // A reader task judges the poll's rows in its chain, then is done with its origin.
        std::shared_ptr<RecordOrigin> origin = task.reader ? e.batch->origin : nullptr;
        task.timing = e.timing;
        if (head && task.timing.trace.sampled()) {
          // A traced batch: the span of this task's operator chain; what it emits is its child.
          const uint64_t parent = task.timing.trace.span;
          task.timing.trace.span = Tracer::new_id();
          const size_t rows = e.batch->num_rows;
          const Micros start = SystemClock::instance().unix_micros();
          head_metrics->add_in(rows);
          RETURN_IF_ERROR(head->process(task.channel_input[static_cast<size_t>(e.channel)], e.batch, out));
          Tracer::global().record(SpanRecord{task.timing.trace.trace_hi, task.timing.trace.trace_lo,
                                             task.timing.trace.span, parent, task.name, start,
                                             SystemClock::instance().unix_micros(),
                                             {{"sluice.rows", std::to_string(rows)}}});
        } else if (head) {
          head_metrics->add_in(e.batch->num_rows);
          RETURN_IF_ERROR(head->process(task.channel_input[static_cast<size_t>(e.channel)], e.batch, out));
        } else {
          RETURN_IF_ERROR(out.emit(std::move(e.batch)));
        }
        if (origin && origin->finish_consumer()) RETURN_IF_ERROR(submit_late(task, *origin));
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
