#include "engine/engine.h"

#include <filesystem>

#include <fmt/format.h>

#include "common/logging.h"
#include "common/time_util.h"
#include "sql/compiler.h"

namespace sluice::engine {

Result<ResolvedOptions> resolve_options(const JobSettings& set, const JobOverrides& o) {
  ResolvedOptions r;
  r.plan.parallelism = o.parallelism > 0 ? o.parallelism : set.parallelism;
  r.plan.batch_size = o.batch_size > 0 ? o.batch_size : set.batch_size;
  r.plan.decode_threads = set.decode_threads;
  CheckpointOptions& c = r.checkpoint;
  c.dir = !o.checkpoint_dir.empty() ? o.checkpoint_dir : set.checkpoint_dir;
  c.from_savepoint = o.from_savepoint;
  c.allow_changed_sources = o.allow_changed_sources;
  c.allow_non_restored_state = o.allow_non_restored_state;
  c.start_over = o.start_over;
  if (c.dir.empty() && !c.from_savepoint.empty()) {
    // A savepoint lives in its job's checkpoint directory: continue checkpointing there.
    c.dir = std::filesystem::path(c.from_savepoint).lexically_normal().parent_path().string();
    if (c.dir.empty()) c.dir = ".";
  }
  c.interval = set.checkpoint_interval > 0 ? set.checkpoint_interval : 0;
  if (!o.checkpoint_interval.empty()) {
    auto d = parse_duration(o.checkpoint_interval);
    if (!d.is_ok() || d.value() < 0) {
      return invalid_argument("--checkpoint-interval: expected a duration such as 200ms, 5s or 1m, got '{}'",
                              o.checkpoint_interval);
    }
    c.interval = d.value();
    if (c.interval > 0 && c.interval < kMinCheckpointInterval) {
      return invalid_argument("--checkpoint-interval: '{}' is shorter than the minimum {} (0 takes only the final checkpoint)",
                              o.checkpoint_interval, format_duration(kMinCheckpointInterval));
    }
  }
  if (c.start_over && c.dir.empty()) return invalid_argument("--start-over needs a checkpoint directory (--checkpoint-dir)");
  if (c.interval > 0 && c.dir.empty()) {
    return invalid_argument("a checkpoint interval needs a checkpoint directory (--checkpoint-dir or SET checkpoint_dir)");
  }
  c.retain = o.checkpoints_retained > 0 ? o.checkpoints_retained
                                        : (set.checkpoints_retained > 0 ? set.checkpoints_retained : 3);
  c.backend = !o.state_backend.empty() ? o.state_backend : (set.state_backend.empty() ? "memory" : set.state_backend);
  if (c.backend != "memory" && c.backend != "rocksdb") {
    return invalid_argument("--state-backend: expected memory or rocksdb, got '{}'", c.backend);
  }
  r.plan.checkpointing = c.enabled();
  r.plan.checkpoint_dir = c.dir;
  return r;
}

namespace {

// Plans `job` with resolved options; `locate` turns a planning error into a located one.
template <typename Locate>
Result<PreparedJob> plan_resolved(const LogicalJob& job, const JobOverrides& overrides, std::string name,
                                  Locate locate) {
  ASSIGN_OR_RETURN(ResolvedOptions options, resolve_options(job.settings, overrides));
  auto planned = plan_job(job, options.plan);
  if (!planned.is_ok()) return locate(planned.status());
  PreparedJob p;
  p.name = std::move(name);
  p.plan = std::move(planned.value());
  p.plan.job.options.checkpoint = options.checkpoint;
  const CheckpointOptions& c = options.checkpoint;
  if (c.enabled()) {
    p.plan.explain += fmt::format("checkpoints: {} in {}, {} state backend, {} retained; sinks commit on checkpoints\n",
                                  c.interval > 0 ? "every " + format_duration(c.interval) : "final only", c.dir,
                                  c.backend, c.retain);
  } else {
    p.plan.explain +=
        "checkpoints: off (a crash reruns the job from the start; exactly-once sinks need --checkpoint-dir)\n";
  }
  p.options = std::move(options);
  return p;
}

}  // namespace

Result<PreparedJob> prepare_sql(const std::string& text, const std::string& file, const JobOverrides& overrides) {
  ASSIGN_OR_RETURN(LogicalJob job, compile_sql(text, file));
  std::string name = std::filesystem::path(file).stem().string();
  if (name.empty()) name = "job";
  return plan_resolved(job, overrides, std::move(name),
                       [&](const Status& s) { return locate_table_error(s, job, text, file); });
}

Result<PreparedJob> prepare_job(const LogicalJob& job, const JobOverrides& overrides, const std::string& name) {
  return plan_resolved(job, overrides, name, [](const Status& s) { return s; });
}

const char* to_string(JobState state) {
  switch (state) {
    case JobState::kCreated: return "created";
    case JobState::kRunning: return "running";
    case JobState::kFinished: return "finished";
    case JobState::kFailed: return "failed";
    case JobState::kStopped: return "stopped";
  }
  return "?";
}

// ---------------------------------------------------------------------------- JobHandle

JobHandle::JobHandle(PreparedJob prepared)
    : name_(std::move(prepared.name)), plan_(std::move(prepared.plan)), options_(std::move(prepared.options)) {
  // The `job` label of its metrics. JobSpec::name (recorded in checkpoints) stays as planned.
  plan_.job.options.metrics_job = name_;
  job_ = std::make_unique<Job>(std::move(plan_.job));
}

JobHandle::~JobHandle() {
  if (thread_.joinable()) {
    job_->request_stop();
    thread_.join();
  }
}

Status JobHandle::run_on_this_thread() {
  ScopedLogJob log_context(name_);  // the job's task threads inherit it (Job::run)
  start_time_ = std::chrono::steady_clock::now();
  state_.store(JobState::kRunning);
  Status s = job_->run();
  elapsed_us_.store(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start_time_).count());
  state_.store(!s.is_ok() ? JobState::kFailed : job_->stopping() ? JobState::kStopped : JobState::kFinished);
  {
    std::lock_guard<std::mutex> lock(mu_);
    result_ = s;
    done_ = true;
  }
  ended_.notify_all();
  return s;
}

Status JobHandle::start() {
  if (started_.exchange(true)) return invalid_argument("job {} was already started", name_);
  thread_ = std::thread([this] { (void)run_on_this_thread(); });
  return Status::ok();
}

Status JobHandle::run() {
  if (started_.exchange(true)) return invalid_argument("job {} was already started", name_);
  return run_on_this_thread();
}

Status JobHandle::wait() {
  if (!started_.load()) return invalid_argument("job {} was not started", name_);
  {
    std::unique_lock<std::mutex> lock(mu_);
    ended_.wait(lock, [&] { return done_; });
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    std::lock_guard<std::mutex> lock(mu_);  // one joiner
    if (thread_.joinable()) thread_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  return result_;
}

void JobHandle::stop() { job_->request_stop(); }

void JobHandle::savepoint(bool and_stop) { job_->request_savepoint(and_stop); }

JobStatus JobHandle::status() const {
  JobStatus st;
  st.name = name_;
  st.state = state_.load();
  if (st.state == JobState::kFailed) {
    std::lock_guard<std::mutex> lock(mu_);
    st.error = result_.message();
  }
  int64_t wm = kMaxWatermark;
  bool any = false;
  for (const SourceMetrics* c : job_->source_metrics()) {
    st.records_in += c->records->value();
    st.dead_lettered += c->dead_lettered->value();
    st.late += c->late->value();
    wm = std::min<int64_t>(wm, c->watermark->value());
    any = true;
  }
  st.watermark = any ? wm : kMinWatermark;
  if (const CheckpointMetrics* c = job_->checkpoint_metrics()) {
    st.checkpoints_completed = c->completed->value();
    st.restored_checkpoint = static_cast<uint64_t>(c->restored_id->value());
  }
  int64_t us = elapsed_us_.load();
  if (us < 0 && st.state == JobState::kRunning) {
    us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start_time_).count();
  }
  st.elapsed_seconds = us > 0 ? static_cast<double>(us) / 1e6 : 0;
  return st;
}

// ---------------------------------------------------------------------------- Engine

Engine::~Engine() {
  stop_all();
  (void)wait_all();
}

Result<std::shared_ptr<JobHandle>> Engine::submit(PreparedJob prepared) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(prepared.name);
  if (it != jobs_.end()) {
    JobState s = it->second->status().state;
    if (s == JobState::kRunning || s == JobState::kCreated) {
      return invalid_argument("a job named '{}' is already running", prepared.name);
    }
  }
  prepared.plan.job.options.metrics = metrics_;
  auto handle = std::make_shared<JobHandle>(std::move(prepared));
  RETURN_IF_ERROR(handle->start());
  jobs_[handle->name()] = handle;
  return handle;
}

std::string Engine::metrics_text() const { return render_prometheus_text(metrics_->collect()); }

std::shared_ptr<JobHandle> Engine::find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(name);
  return it == jobs_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<JobHandle>> Engine::jobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<JobHandle>> out;
  for (const auto& [name, h] : jobs_) out.push_back(h);
  return out;
}

void Engine::stop_all() {
  for (const auto& h : jobs()) h->stop();
}

Status Engine::wait_all() {
  Status first = Status::ok();
  for (const auto& h : jobs()) {
    Status s = h->wait();
    if (first.is_ok() && !s.is_ok()) first = s;
  }
  return first;
}

}  // namespace sluice::engine
