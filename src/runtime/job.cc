#include "runtime/job.h"

#include <algorithm>
#include <chrono>
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
  Status emit_end() { return broadcast(ElementKind::kEnd, kMinWatermark); }
  void set_metrics(OperatorMetrics* metrics) { metrics_ = metrics; }

 private:
  Status send(size_t t, BatchPtr batch) {
    StreamElement e;
    e.kind = ElementKind::kBatch;
    e.channel = targets_[t].channel_id;
    e.batch = std::move(batch);
    if (!targets_[t].channel->push(std::move(e), metrics_ ? &metrics_->blocked_ns : nullptr)) {
      return Status(StatusCode::kCancelled, "job stopping");
    }
    return Status::ok();
  }
  Status broadcast(ElementKind kind, Micros watermark) {
    for (const auto& t : targets_) {
      StreamElement e;
      e.kind = kind;
      e.channel = t.channel_id;
      e.watermark = watermark;
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
  Status emit_end() {
    for (auto& e : edges_) RETURN_IF_ERROR(e->emit_end());
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
  ChainLink(Operator* next, Output* next_out, OperatorMetrics* producer, OperatorMetrics* consumer)
      : next_(next), next_out_(next_out), producer_(producer), consumer_(consumer) {}
  Status emit(BatchPtr batch) override {
    if (batch->num_rows == 0) return Status::ok();
    producer_->add_out(batch->num_rows);
    consumer_->add_in(batch->num_rows);
    return next_->process(0, batch, *next_out_);
  }
  Status emit_watermark(Micros watermark) override {
    consumer_->watermark.store(watermark, std::memory_order_relaxed);
    return next_->on_watermark(watermark, *next_out_);
  }

 private:
  Operator* next_;
  Output* next_out_;
  OperatorMetrics* producer_;
  OperatorMetrics* consumer_;
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
  SourceCounters* source_counters = nullptr;
  std::thread thread;

  Output& tail_output() { return emitter ? static_cast<Output&>(*emitter) : null_output; }
};

Job::Job(JobSpec spec) : spec_(std::move(spec)) {}

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

std::vector<const SourceCounters*> Job::source_counters() const {
  std::vector<const SourceCounters*> out;
  for (const auto& c : source_counters_) out.push_back(c.get());
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
    for (int d : st.also_forward_to) edges.push_back({d, 0, EdgeKind::kForward, {}});
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
      task->op_metrics.push_back(metrics_.add(op_spec->id,
                                              fmt::format("{} {}", op_spec->id, op_spec->kind()),
                                              task->instance));
    }
    if (st.source) {
      auto counters = std::make_unique<SourceCounters>();
      counters->table = fmt::format("{}[{}]", st.source->table, task->instance);
      task->source_counters = counters.get();
      source_counters_.push_back(std::move(counters));
    }
    // Wire op[k] -> op[k+1]; the last op -> emitter or nothing.
    if (task->emitter && !task->op_metrics.empty()) task->emitter->set_metrics(task->op_metrics.back());
    Output* next_out = &task->tail_output();
    for (size_t k = task->ops.size(); k-- > 1;) {
      task->links.push_back(std::make_unique<ChainLink>(task->ops[k].get(), next_out, task->op_metrics[k - 1],
                                                        task->op_metrics[k]));
      next_out = task->links.back().get();
    }
    task->head_output = next_out;
  }
  return Status::ok();
}

namespace {

// The source side of a task: poll, decode, dead-letter, event time, watermarks.
struct SourceLoop {
  const SourceStageSpec& src;
  int split;
  size_t batch_size;
  SourceCounters* counters;
  OperatorMetrics* head_metrics;  // may be null when the chain is empty
  Operator* head;                 // may be null
  Output* head_output;            // where head emits (or the emitter when head is null)
  Fanout* emitter;                // may be null
  const std::atomic<bool>& stop;
  std::function<Status()> idle_tick;

  Micros max_event_time = kMinWatermark;
  Micros watermark = kMinWatermark;
  Micros emitted_watermark = kMinWatermark;
  bool idle = false;

  Status push_batch(BatchPtr batch) {
    if (batch->num_rows == 0) return Status::ok();
    if (head) {
      head_metrics->add_in(batch->num_rows);
      return head->process(0, batch, *head_output);
    }
    return head_output->emit(std::move(batch));
  }
  Status push_watermark(Micros wm) {
    counters->watermark.store(wm, std::memory_order_relaxed);
    if (head) {
      head_metrics->watermark.store(wm, std::memory_order_relaxed);
      return head->on_watermark(wm, *head_output);
    }
    return head_output->emit_watermark(wm);
  }

  Status dead_letter(const RawRecords& raw, size_t record, std::string_view error) {
    DeadLetter letter;
    letter.source = src.table;
    letter.split = split;
    letter.offset = raw.offsets[record];
    letter.line = raw.lines[record];
    letter.error = error;
    letter.raw = raw.record(record);
    counters->dead_lettered.fetch_add(1, std::memory_order_relaxed);
    if (head_metrics) head_metrics->dead_lettered.fetch_add(1, std::memory_order_relaxed);
    return src.dlq->write(letter);
  }

  Status run(SourceReader& reader, Decoder& decoder) {
    RawRecords raw;
    std::vector<DecodeFailure> failures;
    std::vector<uint32_t> keep, row_records;
    const int ts_col = src.event_time.column;
    auto last_data = std::chrono::steady_clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      raw.clear();
      auto polled = reader.poll(raw, batch_size);
      if (!polled.is_ok()) return polled.status().with_context(fmt::format("source {}", src.table));
      PollStatus ps = polled.value();
      if (ps == PollStatus::kData && !raw.empty()) {
        raw.finish();
        last_data = std::chrono::steady_clock::now();
        if (idle) idle = false;  // the next watermark re-activates the channel downstream
        counters->records.fetch_add(raw.size(), std::memory_order_relaxed);
        counters->bytes.fetch_add(raw.data.size(), std::memory_order_relaxed);
        auto batch = make_batch(src.schema);
        failures.clear();
        row_records.clear();
        RETURN_IF_ERROR(decoder.decode(raw, *batch, failures, &row_records));
        for (const auto& f : failures) RETURN_IF_ERROR(dead_letter(raw, f.record, f.error));
        if (ts_col >= 0 && batch->num_rows > 0) {
          RETURN_IF_ERROR(assign_event_time(raw, row_records, batch, keep));
        }
        RETURN_IF_ERROR(push_batch(std::move(batch)));
        if (watermark > emitted_watermark) {
          emitted_watermark = watermark;
          RETURN_IF_ERROR(push_watermark(watermark));
        }
      } else if (ps == PollStatus::kEnd) {
        return push_watermark(kMaxWatermark);
      } else {
        RETURN_IF_ERROR(idle_tick());
        Micros timeout = src.event_time.idle_timeout;
        if (timeout > 0 && !idle && emitter &&
            std::chrono::steady_clock::now() - last_data > std::chrono::microseconds(timeout)) {
          idle = true;
          RETURN_IF_ERROR(emitter->emit_idle());
        }
      }
    }
    return Status(StatusCode::kCancelled, "stopped");
  }

  // Sets row_watermarks (the split watermark before each row) and advances the watermark
  // row by row, so lateness decisions do not depend on how rows were batched. Rows with a
  // NULL event time go to the DLQ.
  Status assign_event_time(const RawRecords& raw, const std::vector<uint32_t>& row_records,
                           MutableBatchPtr& batch, std::vector<uint32_t>& keep) {
    const Column& ts = batch->column(static_cast<size_t>(src.event_time.column));
    const size_t n = batch->num_rows;
    batch->row_watermarks.resize(n);
    bool any_null = false;
    const Micros delay = src.event_time.watermark_delay;
    for (size_t r = 0; r < n; ++r) {
      batch->row_watermarks[r] = watermark;
      if (ts.is_null(r)) {
        any_null = true;
        continue;
      }
      Micros t = ts.int_at(r);
      if (t > max_event_time) {
        max_event_time = t;
        Micros wm = (t < kMinWatermark + delay) ? kMinWatermark : t - delay;
        if (wm > watermark) watermark = wm;
      }
    }
    if (!any_null) return Status::ok();
    keep.clear();
    for (size_t r = 0; r < n; ++r) {
      if (ts.is_null(r)) {
        std::string err = fmt::format("event time column '{}' is NULL",
                                      src.schema->field(static_cast<size_t>(src.event_time.column)).name);
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
};

}  // namespace

Status Job::run() {
  RETURN_IF_ERROR(build());
  for (auto& task_ptr : tasks_) {
    Task* task = task_ptr.get();
    task->thread = std::thread([this, task] {
      Status s = Status::ok();
      OperatorContext ctx;
      ctx.instance = task->instance;
      ctx.parallelism = task->spec->parallelism;
      for (size_t k = 0; k < task->ops.size() && s.is_ok(); ++k) {
        ctx.metrics = task->op_metrics[k];
        s = task->ops[k]->open(ctx);
      }
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
            SourceLoop loop{src,
                            task->instance,
                            spec_.options.batch_size,
                            task->source_counters,
                            task->op_metrics.empty() ? nullptr : task->op_metrics[0],
                            task->ops.empty() ? nullptr : task->ops[0].get(),
                            task->ops.empty() ? &task->tail_output() : task->head_output,
                            task->emitter.get(),
                            stop_,
                            [this, task] { return idle_tick(*task); }};
            s = loop.run(*reader.value(), *decoder.value());
            if (s.is_ok()) s = finish_chain(*task);
            Status c = reader.value()->close();
            if (s.is_ok()) s = c;
            Status d = src.dlq->flush();
            if (s.is_ok()) s = d;
          }
        } else {
          s = run_operator_task(*task);
        }
      }
      // Finish the downstream even on stop so nothing waits forever.
      if (s.is_ok() && task->emitter) s = task->emitter->emit_end();
      for (auto& op : task->ops) {
        Status c = op->close();
        if (s.is_ok()) s = c;
      }
      if (!s.is_ok()) fail(s.code() == StatusCode::kCancelled ? s : s.with_context(task->name));
    });
  }
  for (auto& t : tasks_) t->thread.join();
  std::lock_guard<std::mutex> lock(error_mu_);
  return first_error_;
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
  WatermarkTracker tracker(task.channel_input.size());
  Operator* head = task.ops.empty() ? nullptr : task.ops[0].get();
  OperatorMetrics* head_metrics = task.op_metrics.empty() ? nullptr : task.op_metrics[0];
  Output& out = head ? *task.head_output : task.tail_output();
  StreamElement e;
  while (true) {
    auto popped = task.input->pop_for(&e, std::chrono::milliseconds(100));
    if (popped == BoundedChannel::PopResult::kStopped) break;
    if (popped == BoundedChannel::PopResult::kTimeout) {
      RETURN_IF_ERROR(idle_tick(task));
      continue;
    }
    switch (e.kind) {
      case ElementKind::kBatch:
        if (head) {
          head_metrics->add_in(e.batch->num_rows);
          RETURN_IF_ERROR(head->process(task.channel_input[static_cast<size_t>(e.channel)], e.batch, out));
        } else {
          RETURN_IF_ERROR(out.emit(std::move(e.batch)));
        }
        break;
      case ElementKind::kWatermark:
      case ElementKind::kIdle:
      case ElementKind::kEnd: {
        Micros before = tracker.combined();
        if (e.kind == ElementKind::kWatermark) tracker.on_watermark(e.channel, e.watermark);
        if (e.kind == ElementKind::kIdle) tracker.on_idle(e.channel);
        if (e.kind == ElementKind::kEnd) tracker.on_end(e.channel);
        Micros now = tracker.combined();
        if (now > before) {
          if (head) {
            head_metrics->watermark.store(now, std::memory_order_relaxed);
            RETURN_IF_ERROR(head->on_watermark(now, out));
          } else {
            RETURN_IF_ERROR(out.emit_watermark(now));
          }
        }
        if (tracker.all_idle() && task.emitter && e.kind == ElementKind::kIdle) {
          RETURN_IF_ERROR(task.emitter->emit_idle());
        }
        if (tracker.all_ended()) return finish_chain(task);
        break;
      }
      case ElementKind::kBarrier:
        break;  // checkpoints arrive with the fault-tolerance work
    }
  }
  return Status(StatusCode::kCancelled, "stopped");
}

}  // namespace sluice
