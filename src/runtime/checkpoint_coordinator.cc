#include "runtime/checkpoint_coordinator.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/logging.h"
#include "connectors/split.h"

namespace sluice {
namespace {

constexpr const char* kJobFile = "job.json";

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

Result<std::string> from_hex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return Status(StatusCode::kDataLoss, "odd-length hex string");
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status(StatusCode::kDataLoss, "bad hex digit");
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

CheckpointCoordinator::CheckpointCoordinator(CheckpointOptions options, std::string job_name,
                                             std::map<std::string, int> operators, int num_tasks, int num_sources,
                                             std::map<std::string, std::string> sources)
    : options_(std::move(options)),
      job_name_(std::move(job_name)),
      operators_(std::move(operators)),
      source_identities_(std::move(sources)),
      num_tasks_(num_tasks),
      num_sources_(num_sources),
      own_registry_(std::make_unique<MetricsRegistry>()),
      metrics_(std::make_unique<CheckpointMetrics>(*own_registry_, job_name_)) {}

CheckpointCoordinator::~CheckpointCoordinator() { stop(); }

void CheckpointCoordinator::use(MetricsRegistry& registry, const std::string& metrics_job, const Clock& clock) {
  metrics_ = std::make_unique<CheckpointMetrics>(registry, metrics_job);
  own_registry_.reset();
  clock_ = &clock;
}

std::string CheckpointCoordinator::work_dir() const { return options_.dir + "/.state-work"; }

Status CheckpointCoordinator::open() {
  ASSIGN_OR_RETURN(lock_, CheckpointDirLock::acquire(options_.dir));
  storage_ = std::make_unique<CheckpointStorage>(options_.dir, std::max(1, options_.retain));
  RETURN_IF_ERROR(storage_->open());
  ASSIGN_OR_RETURN(job_id_, storage_->load_or_create_job_id(&job_id_created_));
  std::error_code ec;  // the directory exists now (the lock is in it); absolute() is the fallback
  std::filesystem::path resolved = std::filesystem::canonical(options_.dir, ec);
  resolved_dir_ = ec ? std::filesystem::absolute(options_.dir).lexically_normal().string() : resolved.string();
  ASSIGN_OR_RETURN(backend_, make_state_backend(options_.backend, work_dir()));

  std::optional<CheckpointInfo> info;
  if (!options_.from_savepoint.empty()) {
    auto verified = storage_->verify(options_.from_savepoint);
    if (!verified.is_ok()) {
      return verified.status().with_context(fmt::format("--from-savepoint {}", options_.from_savepoint));
    }
    info = std::move(verified).value();
  } else {
    std::vector<std::string> warnings;
    ASSIGN_OR_RETURN(info, storage_->latest_valid(&warnings));
    for (const auto& w : warnings) log_warn("checkpoint skipped: {}", w);
  }
  std::vector<uint64_t> ids = storage_->list();
  if (!ids.empty()) next_id_ = ids.back() + 1;
  if (!info) return Status::ok();
  if (options_.start_over) {  // it would roll back rows that the checkpoint still counts on
    return invalid_argument("--start-over: checkpoint {} in '{}' can be resumed; --start-over applies only when none "
                            "can (to start over anyway, delete its chk-* directories, keeping job_id)",
                            info->id, options_.dir);
  }
  next_id_ = std::max(next_id_, info->id + 1);

  ASSIGN_OR_RETURN(std::string text, storage_->read_file(*info, kJobFile));
  Restored r;
  r.id = info->id;
  r.info = *info;
  try {
    auto j = nlohmann::json::parse(text);
    r.job_hash = j.value("job_hash", std::string());
    for (auto& [op, v] : j.at("operators").items()) r.operators[op] = v.at("parallelism").get<int>();
    for (const auto& s : j.at("sources")) {
      SourceSplitState st;
      st.table = s.at("table").get<std::string>();
      st.split = s.at("split").get<int>();
      st.split_id = s.value("split_id", std::to_string(st.split));  // older checkpoints: static splits
      if (s.contains("position")) {
        ASSIGN_OR_RETURN(st.position, from_hex(s.at("position").get<std::string>()));
      } else {
        SourcePosition pos;
        pos.offset = s.at("offset").get<int64_t>();
        pos.line = s.at("line").get<int64_t>();
        pos.fingerprint = s.value("fingerprint", std::string());  // absent in older checkpoints
        st.position = encode_offset_position(pos);
      }
      st.finished = s.value("finished", false);
      st.identity = s.value("identity", std::string());
      st.watermark = s.at("watermark").get<int64_t>();
      st.max_event_time = s.at("max_event_time").get<int64_t>();
      r.sources.push_back(std::move(st));
    }
    if (j.contains("enumerators")) {
      for (auto& [table, v] : j.at("enumerators").items()) {
        ASSIGN_OR_RETURN(r.enumerators[table], from_hex(v.get<std::string>()));
      }
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kDataLoss, fmt::format("checkpoint {}: bad {}: {}", info->path, kJobFile, e.what()));
  }
  RETURN_IF_ERROR(check_resumable(r));
  log_info("resuming from checkpoint {} ({})", r.id, info->path);
  metrics_->restored_id->set(static_cast<int64_t>(r.id));
  completed_.store(r.id);
  restored_ = std::move(r);
  return Status::ok();
}

Status CheckpointCoordinator::check_resumable(const Restored& r) {
  const std::string what = fmt::format("checkpoint {} in '{}'", r.id, options_.dir);
  const bool allow = options_.allow_changed_sources;
  const char* hint = "--allow-changed-sources resumes anyway, reading changed inputs from their start";
  RETURN_IF_ERROR(check_operators_restored(r, what));
  // A checkpoint without operator state (none recorded): another job when it shares no table.
  if (r.operators.empty() && !r.sources.empty()) {
    std::set<std::string> tables;
    bool shared = false;
    for (const auto& s : r.sources) {
      tables.insert(s.table);
      shared = shared || source_identities_.count(s.table) > 0;
    }
    if (!shared) {
      std::string msg = fmt::format("{} belongs to another job (it reads table(s) {}; this job reads none of them)",
                                    what, fmt::join(tables, ", "));
      if (!options_.allow_non_restored_state) {
        return invalid_argument("{}: refusing to resume it; use another --checkpoint-dir (--allow-non-restored-state "
                                "resumes it anyway)",
                                msg);
      }
      log_warn("{}: resuming anyway (--allow-non-restored-state)", msg);
    }
  }
  for (const auto& s : r.sources) {
    auto it = source_identities_.find(s.table);
    if (it == source_identities_.end() || s.identity.empty() || s.identity == it->second) continue;
    if (!changed_sources_.insert(s.table).second) continue;  // one message per table
    std::string msg = fmt::format("{} was taken while table {} read {}, but it now reads {}", what, s.table,
                                  s.identity, it->second);
    if (!allow) return invalid_argument("{}: refusing to resume a changed source ({})", msg, hint);
    log_warn("{} (--allow-changed-sources: its position is kept only if it still matches)", msg);
  }
  if (r.job_hash != job_hash()) log_info("{}: the job changed since (queries or tables added)", what);
  return Status::ok();
}

// As Flink restores a savepoint: every stateful operator of the checkpoint (a query's
// aggregate or join, a sink with its pending commits) must be an operator of this job
// (operator ids are stable: derived from the sink table and the definition), else the
// resume is refused unless --allow-non-restored-state drops that state. Operators added by
// an upgrade start empty. A job that shares none of them, with another job hash, is another
// job: its queries would start where the other job's stopped reading the same input.
Status CheckpointCoordinator::check_operators_restored(const Restored& r, const std::string& what) {
  std::vector<std::string> missing;
  for (const auto& [op, par] : r.operators) {
    if (!operators_.count(op)) missing.push_back(op);
  }
  if (missing.empty()) return Status::ok();
  const bool allow = options_.allow_non_restored_state;
  std::string msg;
  if (missing.size() == r.operators.size() && r.job_hash != job_hash()) {
    msg = fmt::format("{} belongs to another job (job hash {}, this job's {}; none of its {} stateful operator(s) is "
                      "in this job)",
                      what, r.job_hash.empty() ? "unrecorded" : r.job_hash, job_hash(), r.operators.size());
    if (!allow) {
      return invalid_argument("{}: refusing to resume it; use another --checkpoint-dir, or rerun with "
                              "--allow-non-restored-state to resume it dropping that state",
                              msg);
    }
  } else {
    constexpr size_t kNamed = 3;
    std::vector<std::string> named(missing.begin(), missing.begin() + std::min(missing.size(), kNamed));
    msg = fmt::format("{} holds the state of {} operator(s) this job does not have ({}{}: a query removed or changed)",
                      what, missing.size(), fmt::join(named, ", "), missing.size() > kNamed ? ", ..." : "");
    if (!allow) {
      return invalid_argument("{}: refusing to drop it; rerun with --allow-non-restored-state to resume without it",
                              msg);
    }
  }
  log_warn("{}: resuming without that state (--allow-non-restored-state)", msg);
  return Status::ok();
}

// The job's identity: its stateful operators (ids include a hash of each definition) and
// what its sources read.
std::string CheckpointCoordinator::job_hash() const {
  std::string text;
  for (const auto& [op, par] : operators_) text += op + "\n";
  for (const auto& [table, identity] : source_identities_) text += table + "=" + identity + "\n";
  return fmt::format("{:016x}", hash_string(text));
}

std::vector<SourceSplitState> CheckpointCoordinator::source_states(const std::string& table) const {
  std::vector<SourceSplitState> out;
  if (!restored_) return out;
  for (const auto& s : restored_->sources) {
    if (s.table == table) out.push_back(s);
  }
  return out;
}

std::optional<std::string> CheckpointCoordinator::enumerator_state(const std::string& table) const {
  if (!restored_) return std::nullopt;
  auto it = restored_->enumerators.find(table);
  if (it == restored_->enumerators.end()) return std::nullopt;
  return it->second;
}

Result<std::unique_ptr<StateRestore>> CheckpointCoordinator::restore_state(const std::string& operator_id) const {
  if (!restored_) return std::unique_ptr<StateRestore>();
  auto it = restored_->operators.find(operator_id);
  if (it == restored_->operators.end()) return std::unique_ptr<StateRestore>();
  return open_state_restore(*storage_, restored_->info, operator_id, it->second, work_dir());
}

void CheckpointCoordinator::start(std::function<void(const Status&)> on_error, std::function<void()> on_stop) {
  on_error_ = std::move(on_error);
  on_stop_ = std::move(on_stop);
  last_trigger_ = clock_->monotonic_micros();
  thread_ = std::thread([this] { loop(); });
}

void CheckpointCoordinator::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CheckpointCoordinator::request_savepoint(bool stop) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    savepoint_requested_ = true;
    if (stop) stop_after_savepoint_ = true;
  }
  cv_.notify_all();
}

void CheckpointCoordinator::source_at_end() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++sources_at_end_;
  }
  cv_.notify_all();
}

void CheckpointCoordinator::ack(uint64_t id, std::vector<CheckpointFile> files, std::vector<SourceSplitState> sources,
                                std::vector<InstanceStateStore::Deferred> deferred,
                                std::map<std::string, std::string> enumerators) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!in_flight_ || id != trigger_id_.load()) return;  // a stale ack (cannot happen with one in flight)
    for (auto& f : files) files_.push_back(std::move(f));
    for (auto& s : sources) sources_.push_back(std::move(s));
    for (auto& d : deferred) deferred_.push_back(std::move(d));
    for (auto& [table, state] : enumerators) enumerators_[table] = std::move(state);
    ++acks_;
  }
  cv_.notify_all();
}

bool CheckpointCoordinator::wait_completed(uint64_t id, const std::atomic<bool>& stop) const {
  std::unique_lock<std::mutex> lock(mu_);
  while (completed_.load() < id) {
    if (stop.load()) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  return true;
}

void CheckpointCoordinator::trigger_locked(bool savepoint) {
  in_flight_ = true;
  in_flight_savepoint_ = savepoint;
  in_flight_started_ = clock_->monotonic_micros();
  in_flight_started_unix_ = clock_->unix_micros();
  last_trigger_ = in_flight_started_;
  acks_ = 0;
  files_.clear();
  sources_.clear();
  enumerators_.clear();
  deferred_.clear();
  trigger_id_.store(next_id_++, std::memory_order_release);
}

Status CheckpointCoordinator::complete_in_flight() {
  const uint64_t id = trigger_id_.load();
  // The deferred parts of the snapshots (one per RocksDB instance), in parallel.
  if (!deferred_.empty()) {
    std::vector<std::vector<CheckpointFile>> produced(deferred_.size());
    std::vector<Status> results(deferred_.size());
    std::vector<std::thread> workers;
    for (size_t i = 1; i < deferred_.size(); ++i) {
      workers.emplace_back([&, i] { results[i] = deferred_[i](&produced[i]); });
    }
    results[0] = deferred_[0](&produced[0]);
    for (auto& w : workers) w.join();
    deferred_.clear();
    for (size_t i = 0; i < results.size(); ++i) {
      RETURN_IF_ERROR(results[i].with_context(fmt::format("checkpoint {}", id)));
      for (auto& f : produced[i]) files_.push_back(std::move(f));
    }
  }
  nlohmann::json j;
  j["job"] = job_name_;
  j["job_id"] = job_id_;
  j["id"] = id;
  j["final"] = id == final_id_.load();
  j["backend"] = backend_->name();
  j["job_hash"] = job_hash();
  j["operators"] = nlohmann::json::object();
  for (const auto& [op, par] : operators_) j["operators"][op] = {{"parallelism", par}};
  std::sort(sources_.begin(), sources_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.table, a.split, a.split_id) < std::tie(b.table, b.split, b.split_id);
  });
  j["sources"] = nlohmann::json::array();
  for (size_t i = 0; i < sources_.size(); ++i) {
    const auto& s = sources_[i];
    if (i > 0 && s.table == sources_[i - 1].table && s.split_id == sources_[i - 1].split_id) {
      // Every split is recorded by exactly one reader task (runtime/split_coordinator.h).
      return internal_error("checkpoint {}: split {} of table {} recorded twice", id, s.split_id, s.table);
    }
    nlohmann::json e = {{"table", s.table}, {"split", s.split}, {"split_id", s.split_id}};
    if (auto pos = decode_offset_position(s.position)) {
      e["offset"] = pos->offset;
      e["line"] = pos->line;
      e["fingerprint"] = pos->fingerprint;
    } else {
      e["position"] = to_hex(s.position);
    }
    if (s.finished) e["finished"] = true;
    e["identity"] = source_identities_.count(s.table) ? source_identities_.at(s.table) : "";
    e["watermark"] = s.watermark;
    e["max_event_time"] = s.max_event_time;
    j["sources"].push_back(std::move(e));
  }
  if (!enumerators_.empty()) {
    j["enumerators"] = nlohmann::json::object();
    for (const auto& [table, state] : enumerators_) j["enumerators"][table] = to_hex(state);
  }
  files_.emplace_back(kJobFile, j.dump(1));
  // "New" bytes: data written for this checkpoint, plus linked files (RocksDB SSTs) that
  // the previous checkpoint did not already link.
  uint64_t size = 0, fresh = 0;
  std::set<std::string> linked;
  for (const auto& f : files_) {
    size += f.link_from.empty() ? f.data.size() : f.size;
    if (f.link_from.empty()) {
      fresh += f.data.size();
    } else {
      if (!previous_links_.count(f.name)) fresh += f.size;
      linked.insert(f.name);
    }
  }
  previous_links_ = std::move(linked);
  auto written = storage_->write(id, files_, in_flight_savepoint_);
  if (!written.is_ok()) return written.status().with_context(fmt::format("checkpoint {}", id));
  const Micros elapsed = clock_->monotonic_micros() - in_flight_started_;
  const CheckpointMetrics& m = *metrics_;
  m.duration_us->observe(elapsed);
  m.size_bytes->observe(static_cast<int64_t>(size));
  m.last_duration_us->set(elapsed);
  m.last_size_bytes->set(static_cast<int64_t>(size));
  m.last_new_bytes->set(static_cast<int64_t>(fresh));
  m.last_completed_unix_us->set(clock_->unix_micros());
  m.last_id->set(static_cast<int64_t>(id));
  m.completed->increment();
  CheckpointRecord record;
  record.id = id;
  record.started_unix_us = in_flight_started_unix_;
  record.duration_us = elapsed;
  record.size_bytes = size;
  record.new_bytes = fresh;
  record.completed = true;
  record.savepoint = in_flight_savepoint_;
  record.final = id == final_id_.load();
  m.history->add(std::move(record));
  if (in_flight_savepoint_) log_info("savepoint {} written: {}", id, written.value().path);
  log_debug("checkpoint {} complete: {} bytes ({} new) in {} ms", id, size, fresh, elapsed / kMicrosPerMilli);
  files_.clear();
  sources_.clear();
  enumerators_.clear();
  in_flight_ = false;
  completed_.store(id, std::memory_order_release);
  return Status::ok();
}

void CheckpointCoordinator::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutdown_) {
    if (in_flight_ && acks_ == num_tasks_) {
      bool was_final = trigger_id_.load() == final_id_.load();
      bool stop_now = in_flight_savepoint_ && stop_after_savepoint_;
      Status s = complete_in_flight();
      cv_.notify_all();
      if (!s.is_ok()) {
        metrics_->failed->increment();
        CheckpointRecord record;
        record.id = trigger_id_.load();
        record.started_unix_us = in_flight_started_unix_;
        record.duration_us = clock_->monotonic_micros() - in_flight_started_;
        record.savepoint = in_flight_savepoint_;
        record.final = was_final;
        record.error = s.message();
        metrics_->history->add(std::move(record));
        lock.unlock();
        on_error_(s);
        return;
      }
      if (was_final) return;  // nothing follows the final checkpoint
      if (stop_now) {
        stopped_ = true;
        lock.unlock();
        on_stop_();
        lock.lock();
      }
      continue;
    }
    if (!in_flight_ && !stopped_) {
      const Micros now = clock_->monotonic_micros();
      if (sources_at_end_ == num_sources_ && final_id_.load() == 0) {
        final_id_.store(next_id_, std::memory_order_release);
        trigger_locked(false);
        continue;
      }
      if (final_id_.load() == 0 && savepoint_requested_) {
        savepoint_requested_ = false;
        trigger_locked(true);
        continue;
      }
      if (final_id_.load() == 0 && options_.interval > 0 &&
          now - last_trigger_ >= options_.interval) {
        trigger_locked(false);
        continue;
      }
    }
    cv_.wait_for(lock, std::chrono::milliseconds(5));
  }
}

}  // namespace sluice
