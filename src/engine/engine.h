// The engine layer: the one way a job goes from text (or a builder's LogicalJob) to a
// running job. compile -> resolve settings -> plan -> run / stop / savepoint / status.
//
//   JobOverrides   what a caller overrides (CLI flags, api::RunOptions); unset fields fall
//                  back to the job's SET values, then to the defaults.
//   resolve_options()  the single place that turns SET values + overrides + defaults into the
//                  options a job runs with (parallelism, batch size, checkpoint settings).
//   prepare_sql() / prepare_job()  compile (SQL only), resolve and plan: a PreparedJob, whose
//                  `explain` is what `sluice explain` prints. Errors are one line, located in
//                  the SQL text when they are about it.
//   JobHandle      one running job: start() runs it on its own thread; stop(), savepoint(),
//                  status() and wait() may be called from any thread.
//   Engine         the jobs of a process (several may run at once), by name.
//
// The CLI, the C++ API, the coming HTTP server and the orchestrator all go through here, so
// a setting is resolved the same way whoever starts the job.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "plan/logical_plan.h"
#include "plan/physical_planner.h"
#include "metrics/registry.h"
#include "runtime/checkpoint_coordinator.h"
#include "runtime/job.h"

namespace sluice::engine {

// Caller overrides; a zero / empty field means "not given".
struct JobOverrides {
  int parallelism = 0;
  size_t batch_size = 0;
  std::string checkpoint_dir;
  // A duration text ("200ms", "5s") as given by the user; validated by resolve_options().
  std::string checkpoint_interval;
  int checkpoints_retained = 0;
  std::string state_backend;  // "memory" or "rocksdb"
  std::string from_savepoint;
  bool allow_changed_sources = false;
  bool allow_non_restored_state = false;
  bool start_over = false;
};

// The resolved options of one job.
struct ResolvedOptions {
  PlanOptions plan;
  CheckpointOptions checkpoint;
};

Result<ResolvedOptions> resolve_options(const JobSettings& settings, const JobOverrides& overrides);

struct PreparedJob {
  std::string name;  // the job's name (file stem, or given)
  PhysicalPlan plan;
  ResolvedOptions options;
  // The plan as `sluice explain` prints it, with the checkpoint settings.
  const std::string& explain() const { return plan.explain; }
};

// Compiles `text` (errors located as `file:line:col`), resolves its settings and plans it.
Result<PreparedJob> prepare_sql(const std::string& text, const std::string& file, const JobOverrides& overrides = {});
// Resolves and plans a job made by any front end (the C++ builder).
Result<PreparedJob> prepare_job(const LogicalJob& job, const JobOverrides& overrides = {},
                                const std::string& name = "job");

enum class JobState { kCreated, kRunning, kFinished, kFailed, kStopped };
const char* to_string(JobState state);

// A point-in-time view of a job for status displays (CLI progress, HTTP status).
struct JobStatus {
  std::string name;
  JobState state = JobState::kCreated;
  std::string error;            // the failure, when state == kFailed
  uint64_t records_in = 0;      // records read by all sources
  uint64_t dead_lettered = 0;   // records sent to dead-letter queues
  uint64_t late = 0;            // records sent to late-data outputs
  int64_t watermark = kMinWatermark;  // minimum over sources
  uint64_t checkpoints_completed = 0;
  uint64_t restored_checkpoint = 0;  // 0: started fresh
  double elapsed_seconds = 0;
};

class JobHandle {
 public:
  explicit JobHandle(PreparedJob prepared);
  ~JobHandle();  // stops and joins a job still running
  JobHandle(const JobHandle&) = delete;
  JobHandle& operator=(const JobHandle&) = delete;

  // Runs the job on its own thread. Once only.
  Status start();
  // Runs the job on the calling thread until it ends (for callers that have nothing else
  // to do with the thread, like the CLI). Once only; instead of start().
  Status run();
  // Blocks until the job ended; returns its result (ok when it finished or was stopped).
  Status wait();
  // Stops the job (sources end at their next poll; sinks commit what the final checkpoint
  // covers). Safe before start() and from any thread.
  void stop();
  // Takes a savepoint (with `and_stop`, stops once it is durable). Kept when asked while
  // the job starts. No-op for a job without checkpoints.
  void savepoint(bool and_stop = false);

  JobStatus status() const;
  const std::string& name() const { return name_; }
  const PhysicalPlan& plan() const { return plan_; }
  const ResolvedOptions& options() const { return options_; }
  // The runtime job (counters, operator metrics); valid for the handle's lifetime.
  const Job& job() const { return *job_; }

 private:
  Status run_on_this_thread();

  std::string name_;
  PhysicalPlan plan_;  // side outputs and explain (the JobSpec moved into job_)
  ResolvedOptions options_;
  std::unique_ptr<Job> job_;
  std::thread thread_;
  std::atomic<bool> started_{false};
  std::atomic<JobState> state_{JobState::kCreated};
  mutable std::mutex mu_;
  std::condition_variable ended_;
  bool done_ = false;
  Status result_ = Status::ok();
  std::chrono::steady_clock::time_point start_time_{};
  std::atomic<int64_t> elapsed_us_{-1};  // set when the job ended
};

// The jobs of one process, by name. Thread-safe.
class Engine {
 public:
  Engine() = default;
  ~Engine();  // stops and joins every job still running

  // Starts a prepared job under its name (refused when a job of that name is running).
  Result<std::shared_ptr<JobHandle>> submit(PreparedJob prepared);
  std::shared_ptr<JobHandle> find(const std::string& name) const;
  std::vector<std::shared_ptr<JobHandle>> jobs() const;
  void stop_all();
  // Waits for every job; returns the first failure.
  Status wait_all();
  // The metrics of every job submitted here, told apart by their `job` label (the name the
  // job was submitted under; a job resubmitted under a name restarts that name's series);
  // what `/metrics` serves (docs/metrics.md).
  MetricsRegistry& metrics() const { return *metrics_; }
  // metrics() in the Prometheus text exposition format 0.0.4 (serve it as
  // `text/plain; version=0.0.4; charset=utf-8`).
  std::string metrics_text() const;

 private:
  std::shared_ptr<MetricsRegistry> metrics_ = std::make_shared<MetricsRegistry>();
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<JobHandle>> jobs_;
};

}  // namespace sluice::engine
