// The embedded HTTP server (`sluice run --http 127.0.0.1:PORT`): a REST API over the
// engine's jobs (docs/http-api.md). cpp-httplib does the HTTP; this file only routes.
//
//   GET  /healthz                          "ok"
//   GET  /api/v1/jobs                      every job with its status
//   GET  /api/v1/jobs/NAME                 one job: status, sources, operators, plan
//   POST /api/v1/jobs/NAME/savepoint       take a savepoint (202; the job writes it)
//   GET  /api/v1/jobs/NAME/plan            physical plan with live per-operator counts
//   GET  /api/v1/jobs/NAME/watermarks      per split and operator; why a window has not fired
//   GET  /api/v1/jobs/NAME/checkpoints     checkpoint history
//   GET  /api/v1/jobs/NAME/dlq             newest dead-letter and late entries, paged
//   GET  /api/v1/jobs/NAME/stream?table=T  server-sent events of the rows a sink receives
//   POST /api/v1/jobs/NAME/stop[?savepoint=true]   stop (with a savepoint first)
//   GET  /metrics                          Prometheus text exposition (when a renderer is set)
//   GET  /, /dashboard/...                 the dashboard (docs/dashboard.md)
//   POST /login                            with a token: the dashboard's session cookie
//
// Security: binds to loopback by default; any other address needs a bearer token, and with
// a token every request (the dashboard's files, /healthz and /metrics included) must carry
// `Authorization: Bearer TOKEN`, or for GET the session cookie that POST /login (the
// dashboard's sign-in form, served with 401 for GET / without credentials) sets; 401
// otherwise. Request line, headers and body are bounded (414/431/413), reads and writes
// time out.
//
// Threads: start() binds and runs the listener on its own thread; requests are served by a
// small pool. Handlers only read the jobs' atomic counters and call JobHandle's thread-safe
// methods: serving never blocks a job's tasks. stop() (or the destructor) ends it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/listen_address.h"
#include "common/status.h"
#include "engine/engine.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace sluice::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;               // 0: any free port (see HttpServer::port())
  std::string token;          // required unless `host` is a loopback address
  size_t max_body_bytes = 1 << 20;
  int timeout_seconds = 5;    // read and write timeouts per request
  int threads = 8;  // HTTP workers (at most 4 of them serve event streams)
  // Renders GET /metrics (the Prometheus text format); unset: /metrics is 404.
  std::function<std::string()> metrics;
};

// "HOST:PORT" or ":PORT" (loopback) or "PORT" -> host and port; the token is read from
// `token_file` (first line, surrounding whitespace trimmed; the file must not be readable
// by others). Refuses a non-loopback host without a token.
Result<HttpServerOptions> http_options(const std::string& address, const std::string& token_file);

using sluice::is_loopback;  // common/listen_address.h

class HttpServer {
 public:
  HttpServer(engine::Engine& engine, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving; an error when the address cannot be bound.
  Status start();
  void stop();
  int port() const { return port_; }
  // "http://HOST:PORT"
  std::string url() const;

 private:
  void routes();
  void serve_stream(const httplib::Request& req, httplib::Response& res);

  static constexpr int kMaxStreams = 4;            // concurrent SSE streams (each holds a worker)
  static constexpr size_t kMaxRowsPerEvent = 2000;  // rows beyond are dropped for the stream

  engine::Engine& engine_;
  HttpServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> streams_{0};
  std::atomic<bool> stopping_{false};
  const std::string session_secret_;  // the dashboard's session cookie (POST /login)
};

}  // namespace sluice::server
