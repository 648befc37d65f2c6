// The `sluice` command: run, explain and validate SQL pipeline files; take savepoints of a
// running job; print the live operator table of a job served over HTTP (top).
//
// Threads: main parses, plans and runs the job (Job::run blocks); a signal thread waits for
// SIGINT/SIGTERM (stop), SIGUSR1 (savepoint) and SIGUSR2 (stop with savepoint), all blocked
// in every other thread; a progress thread prints one status line per second when stderr
// is a terminal.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "checkpoint/checkpoint_storage.h"
#include "checkpoint/dir_lock.h"
#include "common/logging.h"
#include "common/trace.h"
#include "common/time_util.h"
#include "engine/engine.h"
#ifdef SLUICE_WITH_KAFKA
#include "kafka_mock_command.h"
#endif
#include "server/http_server.h"
#include "server/otlp_exporter.h"
#include "server/top.h"
#include "plan/physical_planner.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

namespace sluice {
namespace {

struct CommonOptions {
  std::string file;
  engine::JobOverrides over;  // flags override the job's SET values
};

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return invalid_argument("'{}' is a directory: give the SQL job file (e.g. {}/job.sql)", path, path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open '{}': {}", path, std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compiles, resolves and plans the job file through the engine layer.
Result<engine::PreparedJob> load(const CommonOptions& o) {
  ASSIGN_OR_RETURN(std::string text, read_file(o.file));
  return engine::prepare_sql(text, o.file, o.over);
}

std::string format_count(uint64_t n) {
  if (n >= 10'000'000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
  if (n >= 10'000) return fmt::format("{:.1f}k", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

std::string format_watermark(int64_t wm) {
  if (wm == kMinWatermark) return "-";
  if (wm == kMaxWatermark) return "end";
  return format_timestamp(wm);
}

void print_summary(const Job& job, const PhysicalPlan& plan, double seconds) {
  uint64_t in = 0, dlq = 0;
  std::string out;
  for (const auto* s : job.source_metrics()) {
    in += s->records->value();
    dlq += s->dead_lettered->value();
    out += fmt::format("  source {}[{}]: {} records, {} dead-lettered, watermark {}\n", s->table, s->instance,
                       s->records->value(), s->dead_lettered->value(), format_watermark(s->watermark->value()));
  }
  // Operators: sum over instances, in plan order.
  std::vector<std::string> order;
  std::map<std::string, std::array<uint64_t, 4>> totals;
  for (const auto* m : job.operator_metrics()) {
    if (!totals.count(m->name)) order.push_back(m->name);
    auto& t = totals[m->name];
    t[0] += m->records_in->value();
    t[1] += m->records_out->value();
    t[2] += m->late->value();
    t[3] += m->blocked_ns->value();
  }
  for (const auto& name : order) {
    const auto& t = totals[name];
    out += fmt::format("  {}: in {}, out {}{}{}\n", name, t[0], t[1], t[2] ? fmt::format(", late {}", t[2]) : "",
                       t[3] > 1000000 ? fmt::format(", blocked by backpressure {:.2f}s", static_cast<double>(t[3]) / 1e9) : "");
  }
  for (const auto& side : plan.side_outputs) {
    if (side.queue->count() > 0) {
      out += fmt::format("  {} of {}: {} records -> {}\n", side.kind, side.table, side.queue->count(), side.queue->describe());
    }
  }
  if (const CheckpointMetrics* c = job.checkpoint_metrics()) {
    out += fmt::format("  checkpoints: {} completed{}", c->completed->value(),
                       c->restored_id->value() ? fmt::format(" (resumed from {})", c->restored_id->value()) : "");
    if (c->completed->value() > 0) {
      out += fmt::format(", last {} took {:.1f} ms, {} bytes ({} new)", c->last_id->value(),
                         static_cast<double>(c->last_duration_us->value()) / 1000.0, c->last_size_bytes->value(),
                         c->last_new_bytes->value());
    }
    out += "\n";
  }
  double rate = seconds > 0 ? static_cast<double>(in) / seconds : 0;
  std::fprintf(stderr, "sluice: finished in %.2fs: %s records in (%s/s), %s dead-lettered\n%s", seconds,
               format_count(in).c_str(), format_count(static_cast<uint64_t>(rate)).c_str(), format_count(dlq).c_str(),
               out.c_str());
}

// `--http ADDRESS` and `--http-token-file FILE` of `sluice run`.
struct HttpFlags {
  std::string address;
  std::string token_file;
  std::string trace_endpoint;  // --trace-endpoint: OTLP/HTTP JSON collector
  double trace_sample = 0.01;  // --trace-sample
};

int cmd_run(const CommonOptions& o, bool quiet, const HttpFlags& http_flags) {
  // Signals go to the signal thread only. Blocked before planning: a SIGINT or a savepoint
  // request that arrives while the job starts stays pending and is handled once it runs,
  // instead of killing the process (SIGINT's default) or being lost.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto plan = load(o);
  if (!plan.is_ok()) {
    std::fprintf(stderr, "sluice: error: %s\n", plan.status().message().c_str());
    return 1;
  }

  // With checkpoints, the job locks its directory and writes its pid there (see
  // CheckpointDirLock): a second job on it is refused, `sluice savepoint DIR` finds this one.
  // Validate the HTTP flags before the job starts.
  std::optional<server::HttpServerOptions> http_options;
  if (!http_flags.address.empty()) {
    auto opts = server::http_options(http_flags.address, http_flags.token_file);
    if (!opts.is_ok()) {
      std::fprintf(stderr, "sluice: error: %s\n", opts.status().message().c_str());
      return 1;
    }
    http_options = std::move(opts.value());
  } else if (!http_flags.token_file.empty()) {
    std::fprintf(stderr, "sluice: error: --http-token-file needs --http\n");
    return 1;
  }
  // Tracing (off without an endpoint): a sampled fraction of the polls, exported as OTLP.
  std::unique_ptr<server::OtlpExporter> traces;
  if (!http_flags.trace_endpoint.empty()) {
    if (!(http_flags.trace_sample > 0 && http_flags.trace_sample <= 1)) {
      std::fprintf(stderr, "sluice: error: --trace-sample must be in (0, 1], got %g\n", http_flags.trace_sample);
      return 1;
    }
    auto exporter = server::OtlpExporter::start(http_flags.trace_endpoint);
    if (!exporter.is_ok()) {
      std::fprintf(stderr, "sluice: error: %s\n", exporter.status().message().c_str());
      return 1;
    }
    traces = std::move(exporter.value());
    Tracer::global().configure(http_flags.trace_sample, "sluice", plan.value().plan.job.name);
  }
  // The job runs on the engine's thread; this thread waits for it.
  engine::Engine engine;
  auto submitted = engine.submit(std::move(plan.value()));
  if (!submitted.is_ok()) {
    std::fprintf(stderr, "sluice: error: %s\n", submitted.status().message().c_str());
    return 1;
  }
  engine::JobHandle& handle = *submitted.value();
  set_log_job(handle.name());  // log lines of threads without their own context name the job
  const Job& job = handle.job();
  std::unique_ptr<server::HttpServer> http;
  if (http_options) {
    http_options->metrics = [&engine] { return engine.metrics_text(); };
    http = std::make_unique<server::HttpServer>(engine, std::move(*http_options));
    Status started = http->start();
    if (!started.is_ok()) {
      handle.stop();
      (void)handle.wait();
      std::fprintf(stderr, "sluice: error: %s\n", started.message().c_str());
      return 1;
    }
    std::fprintf(stderr, "sluice: serving %s (REST API under /api/v1)\n", http->url().c_str());
  }
  std::atomic<bool> done{false};
  std::thread signal_thread([&] {
    while (!done.load()) {
      timespec timeout{0, 100 * 1000 * 1000};
      int sig = sigtimedwait(&signals, nullptr, &timeout);
      if (sig == SIGINT || sig == SIGTERM) {
        std::fprintf(stderr, "\nsluice: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        handle.stop();
      } else if (sig == SIGUSR1 || sig == SIGUSR2) {
        handle.savepoint(sig == SIGUSR2);  // SIGUSR2: stop with savepoint
      }
    }
  });
  auto start = std::chrono::steady_clock::now();
  std::mutex mu;
  std::condition_variable cv;
  std::thread progress([&] {
    if (quiet || !isatty(STDERR_FILENO)) return;
    uint64_t last = 0;
    auto last_t = start;
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return done.load(); })) {
      uint64_t n = 0;
      int64_t wm = kMaxWatermark;
      for (const auto* s : job.source_metrics()) {
        n += s->records->value();
        wm = std::min<int64_t>(wm, s->watermark->value());
      }
      auto now = std::chrono::steady_clock::now();
      double dt = std::chrono::duration<double>(now - last_t).count();
      std::fprintf(stderr, "\r\033[Ksluice: %s records, %s records/s, watermark %s", format_count(n).c_str(),
                   format_count(static_cast<uint64_t>(static_cast<double>(n - last) / dt)).c_str(),
                   format_watermark(wm).c_str());
      last = n;
      last_t = now;
    }
    std::fprintf(stderr, "\r\033[K");
  });
  Status s = handle.wait();
  if (http) http->stop();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  {
    std::lock_guard<std::mutex> lock(mu);
    done.store(true);
  }
  cv.notify_all();
  progress.join();
  signal_thread.join();
  if (!s.is_ok()) {
    std::fprintf(stderr, "sluice: error: %s\n", s.message().c_str());
    return 1;
  }
  if (!quiet) print_summary(job, handle.plan(), seconds);
  return 0;
}

// `sluice savepoint DIR`: asks the job running with checkpoint directory DIR for a
// savepoint (SIGUSR1 to the pid in DIR/sluice.pid), waits until it is written and prints its
// path. With --stop (SIGUSR2) the job stops right after the savepoint, which is then the
// last state its sinks committed: resuming from it neither loses nor repeats output.
// The pid is signalled only after it is verified to be the sluice job holding DIR's lock: a
// pid file left by a killed job may name an unrelated process by now.
int cmd_savepoint(const std::string& dir, double timeout_s, bool stop) {
  auto job = CheckpointDirLock::running_job(dir);
  if (!job.is_ok()) {
    std::fprintf(stderr, "sluice: error: %s\n", job.status().message().c_str());
    return 1;
  }
  const pid_t pid = job.value();
  CheckpointStorage storage(dir, 1);
  auto newest_savepoint = [&]() -> std::optional<CheckpointInfo> {
    auto ids = storage.list();
    for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
      auto info = storage.verify(fmt::format("{}/chk-{:020d}", dir, *it));
      if (info.is_ok() && info.value().savepoint) return info.value();
    }
    return std::nullopt;
  };
  auto before = newest_savepoint();
  if (::kill(static_cast<pid_t>(pid), stop ? SIGUSR2 : SIGUSR1) != 0) {
    std::fprintf(stderr, "sluice: error: cannot signal job %ld: %s\n", static_cast<long>(pid), std::strerror(errno));
    return 1;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = newest_savepoint();
    if (now && (!before || now->id > before->id)) {
      std::printf("%s\n", std::filesystem::absolute(now->path).lexically_normal().string().c_str());
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "sluice: error: no savepoint written within %.0f s\n", timeout_s);
  return 1;
}

// `sluice top URL`: the live per-operator table of the job(s) a `sluice run --http` serves
// (server/top.h), refreshed every interval.
int cmd_top(server::TopOptions o, const std::string& interval, const std::string& token_file) {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "sluice: error: %s\n", message.c_str());
    return 1;
  };
  auto parsed = parse_duration(interval);
  if (!parsed.is_ok()) return fail("--interval: " + parsed.status().message());
  o.interval_us = parsed.value();
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) return fail(fmt::format("--token-file: cannot read '{}'", token_file));
    std::getline(in, o.token);
    while (!o.token.empty() && std::isspace(static_cast<unsigned char>(o.token.back()))) o.token.pop_back();
  }
  o.clear_screen = o.iterations == 0 && ::isatty(STDOUT_FILENO);
  Status s = server::run_top(o, stdout);
  if (!s.is_ok()) return fail(s.message());
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  using namespace sluice;
  CLI::App app{"sluice: a real-time data pipeline engine. Write SQL pipelines; run them on files, generators and "
               "databases with event-time windows and a dead-letter queue.",
               "sluice"};
  app.set_version_flag("--version", std::string("sluice ") + SLUICE_VERSION);
  app.require_subcommand(1);
  std::string log_level = "warning";
  app.add_option("--log-level", log_level, "debug, info, warning, error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}))
      ->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "text or json (one JSON object per line: time, level, job, message)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  CommonOptions run_opts, explain_opts, validate_opts;
  bool quiet = false;
  auto add_common = [](CLI::App* cmd, CommonOptions& o) {
    cmd->add_option("file", o.file, "SQL job file")->required();
    cmd->add_option("-p,--parallelism", o.over.parallelism, "instances of each keyed operator (overrides SET parallelism)")
        ->check(CLI::Range(1, 256));
    cmd->add_option("--batch-size", o.over.batch_size, "rows per batch (default 4096)")->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--checkpoint-dir", o.over.checkpoint_dir,
                    "take checkpoints in this directory and resume from the latest one on start");
    cmd->add_option("--checkpoint-interval", o.over.checkpoint_interval, "time between checkpoints, e.g. 200ms, 5s, 1m");
    cmd->add_option("--checkpoints-retained", o.over.checkpoints_retained, "checkpoints kept (default 3; savepoints are kept)")
        ->check(CLI::Range(1, 1000));
    cmd->add_option("--state-backend", o.over.state_backend, "memory (default) or rocksdb");
    cmd->add_option("--from-savepoint", o.over.from_savepoint,
                    "resume from this savepoint or checkpoint directory (parallelism may differ)");
    cmd->add_flag("--allow-changed-sources", o.over.allow_changed_sources,
                  "resume even if a source now reads another input than the checkpoint recorded (read from its start)");
    cmd->add_flag("--allow-non-restored-state", o.over.allow_non_restored_state,
                  "resume even if the checkpoint holds state of queries or sinks this job does not have (a query "
                  "removed or changed, or another job's checkpoint): that state is dropped");
    cmd->add_flag("--start-over", o.over.start_over,
                  "when no checkpoint can be resumed, roll back what the job's sinks committed and start from the "
                  "beginning (instead of refusing to start)");
  };
  auto* run = app.add_subcommand("run", "run a job until its bounded inputs end, or until SIGINT/SIGTERM");
  add_common(run, run_opts);
  run->add_flag("-q,--quiet", quiet, "no progress line and no summary");
  HttpFlags http_flags;
  run->add_option("--http", http_flags.address,
                  "serve the REST API on HOST:PORT while the job runs (loopback unless --http-token-file)");
  run->add_option("--trace-endpoint", http_flags.trace_endpoint,
                  "send OpenTelemetry spans of sampled batches (source, each task, sink commit) as OTLP/HTTP JSON to "
                  "this URL, e.g. http://127.0.0.1:4318/v1/traces (off by default)");
  run->add_option("--trace-sample", http_flags.trace_sample,
                  "with --trace-endpoint: the fraction of source polls traced (default 0.01)");
  run->add_option("--http-token-file", http_flags.token_file,
                  "bearer token (first line of the file, mode 600) required by the HTTP server; needed for a "
                  "non-loopback --http address");
  auto* explain = app.add_subcommand("explain", "print the physical plan: stages, operators, exchanges, sinks");
  add_common(explain, explain_opts);
  auto* validate = app.add_subcommand("validate", "check a job file (SQL, tables, options) without running it");
  add_common(validate, validate_opts);
  std::string savepoint_dir;
  double savepoint_timeout = 60;
  bool savepoint_stop = false;
  auto* savepoint = app.add_subcommand("savepoint", "take a savepoint of the job running with checkpoint directory DIR");
  savepoint->add_option("dir", savepoint_dir, "the job's --checkpoint-dir")->required();
  savepoint->add_option("--timeout", savepoint_timeout, "seconds to wait for the savepoint")->capture_default_str();
  savepoint->add_flag("--stop", savepoint_stop, "stop the job once the savepoint is written");

  server::TopOptions top_opts;
  std::string top_interval = "1s", top_token_file;
  auto* top = app.add_subcommand("top", "print the live per-operator table of the job served at URL (sluice run --http)");
  top->alias("status");
  top->add_option("url", top_opts.url, "the job's HTTP server, e.g. http://127.0.0.1:8080")->required();
  top->add_option("--job", top_opts.job, "only this job (default: every job the server runs)");
  top->add_option("--interval", top_interval, "time between refreshes; rates are over it (e.g. 500ms, 2s)")
      ->capture_default_str();
  top->add_option("-n,--iterations", top_opts.iterations, "print this many tables, then exit (default: until the job ends)")
      ->check(CLI::Range(0, 1000000));
  top->add_option("--token-file", top_token_file, "the server's bearer token (first line of the file)");
#ifdef SLUICE_WITH_KAFKA
  int mock_brokers = 3;
  std::vector<std::string> mock_topics;
  auto* kafka_mock = app.add_subcommand(
      "kafka-mock", "start librdkafka's mock Kafka cluster on loopback and print its bootstrap address (a "
                    "development aid for examples and tests, not a broker); stops on SIGINT/SIGTERM");
  kafka_mock->add_option("--brokers", mock_brokers, "brokers")->check(CLI::Range(1, 16))->capture_default_str();
  kafka_mock->add_option("--topic", mock_topics, "create topic NAME with PARTITIONS partitions (repeatable)")
      ->type_name("NAME:PARTITIONS");
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (log_level == "debug") set_log_level(LogLevel::kDebug);
  else if (log_level == "info") set_log_level(LogLevel::kInfo);
  else if (log_level == "error") set_log_level(LogLevel::kError);
  if (log_format == "json") set_log_format(LogFormat::kJson);

  if (run->parsed()) return cmd_run(run_opts, quiet, http_flags);
  if (savepoint->parsed()) return cmd_savepoint(savepoint_dir, savepoint_timeout, savepoint_stop);
  if (top->parsed()) return cmd_top(top_opts, top_interval, top_token_file);
#ifdef SLUICE_WITH_KAFKA
  if (kafka_mock->parsed()) return cmd_kafka_mock(mock_brokers, mock_topics);
#endif
  const CommonOptions& o = explain->parsed() ? explain_opts : validate_opts;
  auto plan = load(o);
  if (!plan.is_ok()) {
    std::fprintf(stderr, "sluice: error: %s\n", plan.status().message().c_str());
    return 1;
  }
  if (explain->parsed()) {
    std::fputs(plan.value().explain().c_str(), stdout);
  } else {
    std::printf("%s: ok (%zu stages)\n", o.file.c_str(), plan.value().plan.job.stages.size());
  }
  return 0;
}
