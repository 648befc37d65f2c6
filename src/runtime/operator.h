// Operators: the units of processing that tasks chain together.
//
// An OperatorSpec is produced by the planner and is immutable: it holds configuration
// (expressions, key columns, window sizes) and is shared by all parallel instances. Each
// instance of a task calls spec.create() to get its own Operator, which owns the mutable
// per-instance state (hash tables, buffers, scratch). An Operator is called by exactly one
// thread, its task's, in this order:
//
//   open(ctx) -> { process(input, batch) | on_watermark(wm) }* -> finish() -> close()
//
// process() and on_watermark() work on whole batches, must not block or do I/O (sinks are
// the documented exception: their I/O is the point), and send results downstream through
// Output. on_watermark() receives the task's combined input watermark, only when it
// advances; an operator that holds results back (windows) emits them before forwarding the
// watermark, so downstream never sees a watermark ahead of the data it covers.
// finish() is called once after every input ended (after a final kMaxWatermark for
// bounded inputs); the operator emits whatever is still pending.
//
// Asynchronous operators (results that complete off the task thread: a scoring call to an
// HTTP model server) keep their work in flight between calls: has_async_work() says so, and
// the task then calls poll_async() after every element it processes and whenever
// OperatorContext::waker is woken (from any thread, when a result is ready), so results
// flow without waiting for the next input. poll_async() must not block; process() may wait
// for a result only when the operator's in-flight limit is reached (backpressure). Such an
// operator's spec says async() so the planner runs it in an operator task (not a source
// task), and finish() completes everything in flight.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "runtime/batch_timing.h"
#include "runtime/metrics.h"
#include "state/state_backend.h"
#include "types/record_batch.h"

namespace sluice {

class BatchTap;
class MetricsRegistry;

// Wakes a task that waits for input, so it polls its operators' async work (poll_async).
// Thread-safe; cheap when called often (a flag and a notify).
class AsyncWaker {
 public:
  virtual ~AsyncWaker() = default;
  virtual void wake() = 0;
};

class Output {
 public:
  virtual ~Output() = default;
  virtual Status emit(BatchPtr batch) = 0;
  virtual Status emit_watermark(Micros watermark) = 0;
};

// Checkpointing as seen by an operator instance (null when the job does not checkpoint).
struct CheckpointContext {
  // Id of the newest checkpoint whose manifest is durable; sinks commit up to it.
  const std::atomic<uint64_t>* completed = nullptr;
  const std::atomic<bool>* stop = nullptr;
  // The state backend takes incremental snapshots: stateful operators track the keys they
  // change and remove between snapshots (nothing to track for full snapshots).
  bool incremental = false;
  // The job's identity (its checkpoint directory's job id; CheckpointCoordinator::job_id):
  // sinks key their commit records by it. `new_job`: the id was created by this run.
  // `start_over`: --start-over (sinks roll back what the job committed before a fresh start).
  std::string job_id;
  bool new_job = false;
  bool start_over = false;
  // The checkpoint directory's resolved path: sinks record it with their commits, so that a
  // new job id committing from the same directory is known as a deleted directory's job.
  std::string checkpoint_dir = {};
};

struct OperatorContext {
  int instance = 0;
  int parallelism = 1;
  OperatorMetrics* metrics = nullptr;
  // Processing time (the sink's flush interval); tests inject a ManualClock.
  const Clock* clock = &SystemClock::instance();
  CheckpointContext checkpoint;  // checkpoint.completed == nullptr: no checkpoints
  // Sinks: where they offer every input batch (runtime/batch_tap.h; lossy, never blocks).
  BatchTap* tap = nullptr;
  // The timing stamp of the batch the task is processing (runtime/batch_timing.h): valid
  // during process() and the calls after it on the task's thread; null in tests.
  const BatchTiming* timing = nullptr;
  // Sinks: the table's latency histograms (null: not kept).
  const SinkMetrics* sink_metrics = nullptr;
  // The job's registry and `job` label, for operators that register series of their own
  // (a scoring call's latency); null in tests without a job.
  MetricsRegistry* registry = nullptr;
  std::string metrics_job;
  // Async operators: wakes the task when a result is ready (null: the task polls every
  // 100 ms at the latest); and the stamp the task's output carries (the same object as
  // `timing`), which an async operator sets to the stamp of the input its results come from
  // before emitting them, so end-to-end latency counts the wait.
  AsyncWaker* waker = nullptr;
  BatchTiming* output_timing = nullptr;
};

class Operator {
 public:
  virtual ~Operator() = default;
  virtual Status open(const OperatorContext& ctx) {
    ctx_ = ctx;
    return Status::ok();
  }
  virtual Status process(int input, const BatchPtr& batch, Output& out) = 0;
  virtual Status on_watermark(Micros watermark, Output& out) { return out.emit_watermark(watermark); }
  virtual Status finish(Output& out) { return Status::ok(); }
  virtual Status close() { return Status::ok(); }
  // Called by the task about every 100 ms while no input arrives (processing time): lets
  // sinks make buffered output visible on sparse streams. Results must not depend on it.
  virtual Status on_idle_tick(Output& out) { return Status::ok(); }
  // Asynchronous operators (see the top of this file): whether work is in flight or results
  // wait to be emitted, and emitting the results that are ready (never blocks).
  virtual bool has_async_work() const { return false; }
  virtual Status poll_async(Output& out) { return Status::ok(); }

  // Checkpoints. snapshot() is called on the task thread when checkpoint barrier
  // `checkpoint_id` has reached this operator from every input (aligned): the state must
  // reflect exactly the input before the barrier. restore() is called after open() and
  // before any input when the job resumes from a checkpoint; `state` is null when the
  // checkpoint holds nothing for this operator (it was added since, or the job starts fresh:
  // then checkpoint_id is 0). In a checkpointing job restore() is always called, so a sink
  // learns it must write transactionally. Stateless operators keep the defaults.
  virtual Status snapshot(uint64_t checkpoint_id, StateWriter& writer) { return Status::ok(); }
  virtual Status restore(uint64_t checkpoint_id, StateRestore* state) { return Status::ok(); }
  // Called on the task thread once checkpoint `checkpoint_id` is durable (sinks commit).
  virtual Status on_checkpoint_complete(uint64_t checkpoint_id) { return Status::ok(); }
  // How much keyed state the instance holds now, in entries (groups, rows, keys; the
  // operator's natural unit), for the sluice_operator_state_entries gauge; -1: stateless.
  // Called on the task thread between elements: must be O(1).
  virtual int64_t state_entries() const { return -1; }

 protected:
  OperatorContext ctx_;
};

class OperatorSpec {
 public:
  virtual ~OperatorSpec() = default;
  virtual std::string kind() const = 0;      // "filter", "project", "window_aggregate", "sink"
  virtual std::string describe() const = 0;  // one line for EXPLAIN
  virtual std::unique_ptr<Operator> create() const = 0;
  // Whether instances hold state that checkpoints must save (aggregates, top-N, process
  // functions, sinks). Stateless operators are not asked to snapshot.
  virtual bool stateful() const { return false; }
  // Whether instances complete work asynchronously (Operator::poll_async): the planner runs
  // them in an operator task, fed by a channel, never chained into a source task.
  virtual bool async() const { return false; }
  // Sinks: the table written and its columns (the REST API taps the rows a sink receives);
  // empty / null for every other operator.
  virtual std::string sink_table() const { return ""; }
  virtual SchemaPtr sink_schema() const { return nullptr; }
  // Stable id: derived from the plan position and the operator's definition, so a resumed
  // job can match state to operators (used by checkpoints).
  std::string id;
};

using OperatorSpecPtr = std::shared_ptr<const OperatorSpec>;

}  // namespace sluice
