// Job: the runnable form of a physical plan: stages of chained operators, their parallel
// instances (tasks), the channels between them, and one thread per task.
//
// Threads: Job::run() starts one thread per task and waits for them. A source (reader) task
// polls the splits its table's SplitCoordinator assigned to it (several per task; splits may
// come and go while it runs), decodes (on its own thread, or with decode threads of its own:
// JobOptions::decode_threads), dead-letters bad records, assigns event time and
// per-row watermarks with one watermark per split, sends the minimum over its active splits
// downstream, and pushes batches through its operator chain. Other tasks pop their input channel, track the
// watermark of every input channel (the task's watermark is the minimum over active
// channels; idle ones are ignored), and drive their chain. Job::request_stop() may be called
// from any thread (signal handler thread, tests); the first task error also stops the job.
//
// Checkpoints (JobOptions::checkpoint.dir set): a CheckpointCoordinator thread triggers
// checkpoints; source tasks take part between two polls and send barriers in band; tasks
// with several input channels align them (held per-channel queues), snapshot their
// stateful operators through the state backend and acknowledge; sinks commit when a
// checkpoint is durable. On start, every task restores from the coordinator's checkpoint
// (sources seek, operators reload the key groups they own). See checkpoint_coordinator.h.
//
// Edges between stages: kForward (instance i -> instance i), kHash (rows partitioned by the
// hash of key columns -> key group -> instance; watermarks broadcast) and kGather (all
// instances -> the single downstream instance).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "connectors/retry.h"
#include "connectors/source.h"
#include "formats/dead_letter.h"
#include "formats/late_output.h"
#include "formats/recent_letters.h"
#include "runtime/batch_tap.h"
#include "runtime/checkpoint_coordinator.h"
#include "runtime/metrics.h"
#include "runtime/operator.h"

namespace sluice {

struct EventTimeSpec {
  int column = -1;             // event-time column in the source schema; -1: none
  Micros watermark_delay = 0;  // allowed out-of-orderness
  Micros idle_timeout = 0;     // 0: a split never becomes idle
  // A row whose event time is more than this ahead of max(processing time, the split's max
  // event time so far) is dead-lettered and does not move the watermark. < 0: no limit.
  Micros max_future_skew = -1;
};

struct SourceStageSpec {
  std::string table;
  std::shared_ptr<SourceFactory> factory;
  SchemaPtr schema;
  EventTimeSpec event_time;
  // Dead letters: a file/SQLite destination (the `dlq` shorthands), or null when the
  // dead-letter queue is the sink table `dlq_sink`, fed through StageSpec::dlq_stage.
  std::shared_ptr<DeadLetterQueue> dlq;
  std::string dlq_sink;
  // Whether its dead-letter rows carry the message columns (topic, partition, key, headers:
  // side_output_schema(kind, true)): a message source's (FormatOptions::metadata), unless
  // its dlq_sink table was declared without them. Set by the planner.
  bool dlq_message_columns = false;
  // Set when a windowed query reads the table: batches then carry their records' origin
  // so late rows are written out as input records (formats/late_output.h). A late output
  // that is a sink table is fed through StageSpec::late_stage.
  std::shared_ptr<LateOutput> late;
};

enum class EdgeKind { kForward, kHash, kGather };
const char* edge_kind_name(EdgeKind kind);

struct StageSpec {
  std::string name;
  int parallelism = 1;                      // for source stages: the number of reader tasks
  std::shared_ptr<SourceStageSpec> source;  // set for a source stage
  std::vector<OperatorSpecPtr> chain;       // may be empty for a source stage only if it has a downstream
  int downstream = -1;                      // stage index; -1 when the chain ends in a sink
  int downstream_input = 0;                 // logical input of the downstream head operator
  EdgeKind edge = EdgeKind::kForward;
  std::vector<int> key_columns;             // kHash: columns of this stage's output rows
  // Further stages that receive every output batch too, instance i -> instance i (a source
  // read once and shared by several pipelines). Same parallelism required.
  std::vector<int> also_forward_to;
  // Side outputs that are sink tables (`dlq = 'bad_rows'`): the single-instance stages of
  // their sinks, fed by gather edges that carry barriers, watermarks and the end like any
  // edge, so a side-output sink is as exactly-once as any sink. A source stage sends its
  // dead letters to dlq_stage; source-side stages (the source stage, the reader stages of
  // a shared source) send the late rows of the polls they finish to late_stage.
  int dlq_stage = -1;
  int late_stage = -1;
};

struct JobOptions {
  size_t batch_size = kDefaultBatchRows;
  size_t channel_capacity = 16;  // batches per input channel queue
  // Threads that decode the records of one source table (SET decode_threads; the planner
  // defaults it to the job's parallelism). Each reader task gets decode_threads / readers
  // of them (at least 1, its own thread): above 1, a DecodePool (runtime/decode_pool.h)
  // decodes its polls on that many threads, while the task assigns event time, watermarks
  // and lateness in poll order, so the output does not depend on it.
  int decode_threads = 1;
  CheckpointOptions checkpoint;  // checkpoint.dir empty: no checkpoints
  // Where the job registers its metrics (docs/metrics.md). Null: a registry of the job's
  // own. A registry shared by several jobs (a process serving /metrics) needs a distinct
  // `metrics_job` per running job: a job starting under a label resets its series.
  std::shared_ptr<MetricsRegistry> metrics;
  // The `job` label of its series; empty: JobSpec::name. (JobSpec::name is also recorded in
  // checkpoints; the engine labels a job with the name it was submitted under.)
  std::string metrics_job;
  // Processing time for idle timeouts, sink flush intervals and checkpoint timing; must
  // outlive the job. Null: the system clock.
  const Clock* clock = nullptr;
  // How a source reader retries a transient failure (a broker or server unreachable): handed
  // to every split reader in SourceContext::retry.
  RetryPolicy source_retry{};
};

struct JobSpec {
  std::string name;
  std::vector<StageSpec> stages;
  JobOptions options;
};

class SplitCoordinator;

class Job {
 public:
  explicit Job(JobSpec spec);
  ~Job();

  // Runs every task to completion (bounded inputs) or until request_stop(). Returns the
  // first task error, if any.
  Status run();
  void request_stop();
  bool stopping() const { return stop_.load(); }

  // Takes a savepoint (a retained checkpoint) as soon as possible; no-op without checkpoints.
  // With `stop`, the job stops once the savepoint is durable (stop with savepoint).
  void request_savepoint(bool stop = false);
  // Null until run() started, or when the job does not checkpoint.
  const CheckpointMetrics* checkpoint_metrics() const;

  // The job's stages and operators (immutable once constructed; read by status views).
  const JobSpec& spec() const { return spec_; }
  // The registry holding every metric of the job (JobOptions::metrics or the job's own).
  MetricsRegistry& metrics() const { return *registry_; }
  // The `job` label of its series (JobOptions::metrics_job, else JobSpec::name).
  const std::string& metrics_job() const {
    return spec_.options.metrics_job.empty() ? spec_.name : spec_.options.metrics_job;
  }
  // Handles to the job's series, for the CLI's progress line and summary: every source
  // split and every operator instance in plan order. Empty until run() built the tasks.
  std::vector<const SourceMetrics*> source_metrics() const;
  std::vector<const OperatorMetrics*> operator_metrics() const;
  // The newest dead-letter and late-data entries (bounded; the side outputs hold them all).
  const RecentLetters& recent_side_records() const { return *recent_; }
  // The tap of the rows sink table `table` receives (null: no sink writes it); the sink
  // tables in name order. Fixed when the job is constructed.
  BatchTap* tap(const std::string& table) const;
  std::vector<std::string> tapped_tables() const;

 private:
  struct Task;
  Status build();
  Status run_operator_task(Task& task);
  Status finish_chain(Task& task);
  // Finishes the chain, snapshots it for the final checkpoint (if any), ends the output and
  // waits for the final checkpoint so sinks commit before the task exits.
  Status finish_task(Task& task, uint64_t final_id);
  Status end_task(Task& task, uint64_t final_id);
  Status idle_tick(Task& task);
  Status poll_async(Task& task);
  void update_state_gauges(Task& task);
  Status restore_task(Task& task);
  Status snapshot_task(Task& task, uint64_t id, std::vector<SourceSplitState> sources,
                       std::map<std::string, std::string> enumerators = {});
  Status start_split_coordinators();
  Status notify_complete(Task& task);
  Status begin_side_outputs();
  // The last consumer of a poll's records writes out their late entries (to the late
  // output's writer thread, or through the task's side edge to a sink table).
  Status submit_late(Task& task, const RecordOrigin& origin);
  void fail(const Status& s);

  JobSpec spec_;
  std::atomic<bool> stop_{false};
  std::shared_ptr<MetricsRegistry> registry_;
  const Clock* clock_;
  std::vector<std::unique_ptr<SourceMetrics>> source_metrics_;
  std::vector<std::unique_ptr<OperatorMetrics>> operator_metrics_;
  std::shared_ptr<RecentLetters> recent_ = std::make_shared<RecentLetters>();
  std::map<std::string, std::unique_ptr<BatchTap>> taps_;  // by sink table
  std::map<std::string, std::unique_ptr<SinkMetrics>> sink_metrics_;  // by sink table; made by build()
  std::atomic<bool> built_{false};  // the handle vectors above are complete
  std::vector<std::unique_ptr<Task>> tasks_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
  std::map<const SourceStageSpec*, std::unique_ptr<SplitCoordinator>> split_coordinators_;
  std::vector<LateOutput*> late_outputs_;  // started by run(), stopped after the tasks
  std::atomic<bool> coordinator_ready_{false};
  // A savepoint requested before the coordinator started: 1 = savepoint, 2 = stop with
  // savepoint; issued once the coordinator is ready (exchange makes it exactly once).
  std::atomic<int> pending_savepoint_{0};
  void issue_pending_savepoint();
  std::mutex error_mu_;
  Status first_error_;
};

}  // namespace sluice
