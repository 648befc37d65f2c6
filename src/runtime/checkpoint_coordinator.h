// CheckpointCoordinator: triggers checkpoints, collects the acknowledgements of every task
// and writes each complete checkpoint atomically; on start, finds the checkpoint to resume
// from and hands its state back to the tasks.
//
// Source splits are recorded as their connectors encode them (opaque positions); offset
// positions (connectors/split.h) are written to job.json as readable offset/line/fingerprint
// fields, others in hex, and each table's split enumerator state in hex.
//
// Protocol (asynchronous barrier snapshotting, one checkpoint in flight at a time):
//  1. The coordinator thread raises trigger_id() to N (every `interval`, or on a savepoint
//     request). Each source task notices it between two polls, records its split position
//     and watermark, snapshots the operators chained to it and sends barrier N downstream.
//  2. A task with several input channels aligns: after barrier N arrived on a channel, that
//     channel's later elements are held back until N arrived on every channel; then the
//     task snapshots its operators, forwards N and replays what it held.
//  3. Every task acknowledges N with its files (ack()). When all have, the coordinator
//     writes the checkpoint (state files + job.json: operators, source positions) through
//     CheckpointStorage (write, fsync, rename), applies retention, then publishes N as
//     completed(); sink operators commit their transactions up to N on their own thread.
//  4. End of bounded input: a source that reaches the end emits its final watermark and
//     keeps answering triggers at its end position (source_at_end()). When every source is
//     at its end the coordinator triggers a final checkpoint F; sources send F inside their
//     end-of-stream element, each task finishes its operators, snapshots them (sinks
//     pre-commit what the finish produced) and acknowledges F; tasks wait until F is
//     complete so sinks commit before the job exits. A job that resumes from a final
//     checkpoint reads nothing and commits nothing twice.
//
// Threads: trigger/ack/stat accessors are thread-safe. The coordinator thread is started by
// start() and stopped by stop() (the job's run() does both).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint_storage.h"
#include "checkpoint/dir_lock.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/time_util.h"
#include "runtime/metrics.h"
#include "state/state_backend.h"

namespace sluice {

struct CheckpointOptions {
  std::string dir;           // empty: the job does not checkpoint
  Micros interval = 0;       // 0: no periodic checkpoints (savepoints and the final one only)
  int retain = 3;            // regular checkpoints kept; savepoints are never deleted
  std::string backend = "memory";  // "memory" or "rocksdb"
  // Resume from this checkpoint or savepoint directory instead of the latest one in `dir`.
  std::string from_savepoint;
  // Resume even when a source reads another input than the checkpoint recorded: a changed
  // input is read from its start unless its recorded position still matches it (e.g. the
  // same file under a new path).
  bool allow_changed_sources = false;
  // Resume even when the checkpoint holds state of stateful operators (queries, sinks) this
  // job does not have (a query removed or changed, or another job's checkpoint): that state
  // is dropped. Without it such a resume is refused (Flink's --allowNonRestoredState).
  bool allow_non_restored_state = false;
  // --start-over: when no checkpoint can be resumed, sinks roll back what this job committed
  // earlier (instead of refusing to start) and the job starts from the beginning.
  bool start_over = false;
  bool enabled() const { return !dir.empty(); }
};

// The recorded state of one source split (connectors/split.h).
struct SourceSplitState {
  std::string table;
  std::string split_id;  // SourceSplit::id
  int split = 0;         // SourceSplit::number
  std::string position;  // SourceSplit::position: connector-defined bytes
  bool finished = false;  // read to its end: not read again on resume
  std::string identity;   // SourceFactory::identity() of the table (filled in by the coordinator)
  Micros watermark = kMinWatermark;
  Micros max_event_time = kMinWatermark;
};

class CheckpointCoordinator {
 public:
  // `operators`: every stateful-or-not operator id of the job with its parallelism;
  // `num_tasks`: tasks that acknowledge; `num_sources`: source tasks; `sources`: source
  // table -> SourceFactory::identity(), recorded in checkpoints and checked on resume.
  CheckpointCoordinator(CheckpointOptions options, std::string job_name, std::map<std::string, int> operators,
                        int num_tasks, int num_sources, std::map<std::string, std::string> sources = {});
  ~CheckpointCoordinator();

  // Where the statistics go (series labelled job = `metrics_job`) and where time comes from
  // (the interval, durations, completion times): call before open(). Defaults: a registry
  // of the coordinator's own (labelled with the job name) and the system clock. Both must
  // outlive the coordinator.
  void use(MetricsRegistry& registry, const std::string& metrics_job, const Clock& clock);

  // Locks the checkpoint directory (a second job on it is refused), opens storage and the
  // backend and loads the checkpoint to resume from, if any. Warnings (skipped corrupt
  // checkpoints) are logged. A checkpoint holding state of a stateful operator this job
  // lacks (a query removed or changed; all of them: another job) is refused unless
  // options.allow_non_restored_state; one whose source table read another input (another
  // identity) is refused unless options.allow_changed_sources; added queries and tables
  // are fine.
  Status open();
  // on_error: a checkpoint could not be written (the job fails). on_stop: a savepoint
  // requested with stop=true is durable (the job stops; nothing is triggered after it).
  void start(std::function<void(const Status&)> on_error, std::function<void()> on_stop);
  void stop();

  // Restore side (valid after open()).
  uint64_t restored_id() const { return restored_ ? restored_->id : 0; }
  // The checkpoint directory's job id (CheckpointStorage::load_or_create_job_id), and
  // whether this run created it (no earlier run used the directory).
  const std::string& job_id() const { return job_id_; }
  // The checkpoint directory as an absolute path with symbolic links resolved.
  const std::string& resolved_dir() const { return resolved_dir_; }
  bool job_id_created() const { return job_id_created_; }
  // The splits of `table` recorded in the restored checkpoint (empty when none).
  std::vector<SourceSplitState> source_states(const std::string& table) const;
  // The state of `table`'s split enumerator recorded in the restored checkpoint.
  std::optional<std::string> enumerator_state(const std::string& table) const;
  // Whether `table` read another input when the restored checkpoint was taken (only with
  // allow_changed_sources: otherwise open() refused): its positions may not apply.
  bool source_changed(const std::string& table) const { return changed_sources_.count(table) > 0; }
  // The state of `operator_id` in the restored checkpoint; nullptr when none.
  Result<std::unique_ptr<StateRestore>> restore_state(const std::string& operator_id) const;
  StateBackend& backend() { return *backend_; }

  // Trigger side.
  uint64_t trigger_id() const { return trigger_id_.load(std::memory_order_acquire); }
  uint64_t final_id() const { return final_id_.load(std::memory_order_acquire); }
  // Takes a retained checkpoint as soon as none is in flight; with `stop`, the job stops
  // right after it, so the savepoint is the last state any sink committed (stop with
  // savepoint, for upgrades and rescaling). Async-signal-unsafe: call from a normal thread.
  void request_savepoint(bool stop);
  void source_at_end();

  // Acknowledgement of checkpoint `id` by one task.
  // `deferred`: the slow parts of state snapshots (InstanceStateStore::snapshot_async),
  // run by the coordinator, off the task threads, before the checkpoint is written.
  // `enumerators`: table -> SplitEnumerator::snapshot_state(), from the first reader task
  // of each table to reach the barrier.
  void ack(uint64_t id, std::vector<CheckpointFile> files, std::vector<SourceSplitState> sources,
           std::vector<InstanceStateStore::Deferred> deferred = {},
           std::map<std::string, std::string> enumerators = {});
  const std::atomic<uint64_t>& completed() const { return completed_; }
  // Waits until checkpoint `id` is complete; false if `stop` was raised first.
  bool wait_completed(uint64_t id, const std::atomic<bool>& stop) const;

  const CheckpointMetrics& metrics() const { return *metrics_; }
  const std::string& dir() const { return options_.dir; }

 private:
  struct Restored {
    uint64_t id = 0;
    CheckpointInfo info;
    std::map<std::string, int> operators;  // id -> parallelism
    std::vector<SourceSplitState> sources;
    std::map<std::string, std::string> enumerators;
    std::string job_hash;  // empty in older checkpoints
  };
  void loop();
  Status check_resumable(const Restored& r);
  Status check_operators_restored(const Restored& r, const std::string& what);
  std::string job_hash() const;
  Status complete_in_flight();
  void trigger_locked(bool savepoint);
  std::string work_dir() const;

  CheckpointOptions options_;
  std::unique_ptr<CheckpointDirLock> lock_;  // held from open() to destruction: one job per directory
  std::string job_name_;
  std::map<std::string, int> operators_;
  std::map<std::string, std::string> source_identities_;  // table -> identity
  std::set<std::string> changed_sources_;
  const int num_tasks_;
  const int num_sources_;
  std::unique_ptr<CheckpointStorage> storage_;
  std::unique_ptr<StateBackend> backend_;
  std::optional<Restored> restored_;
  std::string job_id_;
  std::string resolved_dir_;
  bool job_id_created_ = false;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::thread thread_;
  bool shutdown_ = false;
  std::function<void(const Status&)> on_error_;
  std::function<void()> on_stop_;
  bool stop_after_savepoint_ = false;
  bool stopped_ = false;  // a stop-with-savepoint completed: no more triggers
  uint64_t next_id_ = 1;
  std::atomic<uint64_t> trigger_id_{0};
  std::atomic<uint64_t> final_id_{0};
  std::atomic<uint64_t> completed_{0};
  bool in_flight_ = false;
  bool in_flight_savepoint_ = false;
  Micros in_flight_started_ = 0;  // clock_->monotonic_micros()
  Micros in_flight_started_unix_ = 0;  // clock_->unix_micros() at the trigger (history)
  Micros last_trigger_ = 0;
  int acks_ = 0;
  std::vector<CheckpointFile> files_;
  std::vector<SourceSplitState> sources_;
  std::map<std::string, std::string> enumerators_;
  std::vector<InstanceStateStore::Deferred> deferred_;
  std::set<std::string> previous_links_;  // linked files of the previous checkpoint
  bool savepoint_requested_ = false;
  int sources_at_end_ = 0;
  std::unique_ptr<MetricsRegistry> own_registry_;  // until use() is called
  std::unique_ptr<CheckpointMetrics> metrics_;
  const Clock* clock_ = &SystemClock::instance();
};

}  // namespace sluice
