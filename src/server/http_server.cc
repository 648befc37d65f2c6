#include "server/http_server.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/listen_address.h"
#include "common/time_util.h"
#include "formats/json_encoder.h"
#include "runtime/batch_tap.h"
#include "server/assets.h"
#include "server/job_views.h"
#include "types/data_type.h"

namespace sluice::server {
namespace {

using json = nlohmann::json;

// GET /api/v1/jobs/NAME/dlq: entries per page by default and at most.
constexpr size_t kDefaultDlqLimit = 100;
constexpr size_t kMaxDlqLimit = 500;

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// The dashboard's session cookie (POST /login); its value is HttpServer::session_secret_.
constexpr const char* kSessionCookie = "sluice_session";

// The value of the session cookie of `req`, or "".
std::string session_cookie(const httplib::Request& req) {
  const std::string cookies = req.get_header_value("Cookie");
  const std::string name = std::string(kSessionCookie) + "=";
  size_t at = 0;
  while (at < cookies.size()) {
    size_t end = cookies.find(';', at);
    if (end == std::string::npos) end = cookies.size();
    const std::string c = trim(cookies.substr(at, end - at));
    if (c.rfind(name, 0) == 0) return c.substr(name.size());
    at = end + 1;
  }
  return "";
}

// The 401 page a browser gets for / without credentials: a form posting the token to
// /login. Inline and script-free; it shows nothing of the jobs.
void login_page(httplib::Response& res, const std::string& message) {
  res.status = 401;
  res.set_header("WWW-Authenticate", "Bearer");
  res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
  res.set_header("Cache-Control", "no-store");
  res.set_content(fmt::format(R"(<!doctype html>
<html><head><meta charset="utf-8"><title>Sluice: sign in</title>
<style>body{{font:15px system-ui,sans-serif;margin:4em auto;max-width:28em}}input{{font:inherit}}</style></head>
<body><h1>Sluice</h1><p>This server needs its bearer token (the first line of its <code>--http-token-file</code>).</p>
<p id="message">{}</p>
<form method="post" action="/login"><input type="password" name="token" autocomplete="current-password" autofocus size="40">
<button type="submit">Sign in</button></form></body></html>
)",
                              message),
                  "text/html; charset=utf-8");
}

// 32 random bytes in hex: the session cookie's value, new for every server.
std::string random_secret() {
  std::random_device device;
  std::string out;
  for (int i = 0; i < 8; ++i) out += fmt::format("{:08x}", device());
  return out;
}

json status_json(const engine::JobStatus& st) {
  json j;
  j["name"] = st.name;
  j["state"] = engine::to_string(st.state);
  if (!st.error.empty()) j["error"] = st.error;
  j["records_in"] = st.records_in;
  j["dead_lettered"] = st.dead_lettered;
  j["late"] = st.late;
  j["watermark"] = watermark_text(st.watermark);
  j["checkpoints_completed"] = st.checkpoints_completed;
  j["restored_checkpoint"] = st.restored_checkpoint;
  j["elapsed_seconds"] = st.elapsed_seconds;
  return j;
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Raw input (DLQ entries) may hold invalid UTF-8: replaced, never an exception.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void error(httplib::Response& res, int status, const std::string& message) {
  reply(res, status, json{{"error", message}});
}

const char* content_type(const std::string& path) {
  auto ends = [&](const char* ext) {
    const size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  return "text/plain; charset=utf-8";
}

// A non-negative integer query parameter; `fallback` when absent, nullopt when malformed.
std::optional<size_t> size_param(const httplib::Request& req, const char* name, size_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<size_t>(std::stoul(v));
}

}  // namespace

Result<HttpServerOptions> http_options(const std::string& address, const std::string& token_file) {
  HttpServerOptions o;
  ASSIGN_OR_RETURN(ListenAddress listen, parse_listen_address(address, "--http"));
  o.host = listen.host;
  o.port = listen.port;
  if (!token_file.empty()) {
    ASSIGN_OR_RETURN(o.token, read_token_file(token_file, "--http-token-file"));
  }
  if (!is_loopback(o.host) && o.token.empty()) {
    return invalid_argument(
        "--http: binding to '{}' (not a loopback address) needs a bearer token: --http-token-file FILE", o.host);
  }
  return o;
}

HttpServer::HttpServer(engine::Engine& engine, HttpServerOptions options)
    : engine_(engine),
      options_(std::move(options)),
      server_(std::make_unique<httplib::Server>()),
      session_secret_(random_secret()) {}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::url() const {
  return options_.host.find(':') != std::string::npos ? fmt::format("http://[{}]:{}", options_.host, port_)
                                                      : fmt::format("http://{}:{}", options_.host, port_);
}

void HttpServer::routes() {
  httplib::Server& s = *server_;
  const int threads = std::max(1, options_.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(options_.max_body_bytes);
  s.set_read_timeout(options_.timeout_seconds, 0);
  s.set_write_timeout(options_.timeout_seconds, 0);
  s.set_keep_alive_max_count(100);
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    error(res, 500, "internal error");
  });
  // With a token, EVERY request must be authenticated, the dashboard's own files included:
  // either `Authorization: Bearer TOKEN`, or (GET only, so a browser's page loads, fetches
  // and event streams work) the session cookie POST /login sets for the right token. The
  // cookie holds a random per-server secret, never the token; it is HttpOnly and
  // SameSite=Strict, and state-changing requests (POST) still need the header, so another
  // site cannot make the browser stop a job. An unauthenticated GET / gets the login form
  // (a 401 page holding nothing of the dashboard or the jobs).
  const std::string token = options_.token;
  const std::string session = session_secret_;
  s.set_pre_routing_handler([token, session](const httplib::Request& req, httplib::Response& res) {
    if (token.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (req.method == "POST" && req.path == "/login") return httplib::Server::HandlerResponse::Unhandled;
    if (bearer_matches(token, req.get_header_value("Authorization"))) return httplib::Server::HandlerResponse::Unhandled;
    if ((req.method == "GET" || req.method == "HEAD") && same_secret(session, session_cookie(req))) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (req.method == "GET" && req.path == "/") {
      login_page(res, "");
      return httplib::Server::HandlerResponse::Handled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    error(res, 401, "missing or wrong bearer token");
    return httplib::Server::HandlerResponse::Handled;
  });
  if (!token.empty()) {
    // POST /login (form field `token`): the session cookie for the dashboard, then back to /.
    s.Post("/login", [token, session](const httplib::Request& req, httplib::Response& res) {
      httplib::Params form;
      httplib::detail::parse_query_text(req.body, form);
      auto it = form.find("token");
      if (it == form.end() || !same_secret(token, trim(it->second))) return login_page(res, "Wrong token.");
      res.set_header("Set-Cookie", fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict", kSessionCookie, session));
      res.set_redirect("/", 303);
    });
  }

  // The dashboard (server/assets.h): files compiled into the binary, nothing read from disk.
  auto asset = [](const std::string& path, httplib::Response& res) {
    const EmbeddedAsset* a = find_asset(path);
    if (!a) return error(res, 404, "not found");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
    res.set_header("Cache-Control", "no-cache");
    res.set_content(reinterpret_cast<const char*>(a->data), a->size, content_type(path));
  };
  s.Get("/", [asset](const httplib::Request&, httplib::Response& res) { asset("index.html", res); });
  s.Get(R"(/dashboard/([A-Za-z0-9_./-]+))", [asset](const httplib::Request& req, httplib::Response& res) {
    const std::string path = req.matches[1];
    if (path.find("..") != std::string::npos) return error(res, 404, "not found");
    asset(path, res);
  });

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });

  s.Get("/api/v1/jobs", [this](const httplib::Request&, httplib::Response& res) {
    json jobs = json::array();
    for (const auto& h : engine_.jobs()) jobs.push_back(status_json(h->status()));
    reply(res, 200, json{{"jobs", jobs}});
  });

  s.Get(R"(/api/v1/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto h = engine_.find(req.matches[1]);
    if (!h) return error(res, 404, fmt::format("no job named '{}'", std::string(req.matches[1])));
    json j = status_json(h->status());
    const engine::ResolvedOptions& o = h->options();
    j["parallelism"] = o.plan.parallelism;
    j["batch_size"] = o.plan.batch_size;
    if (o.checkpoint.enabled()) {
      j["checkpoints"] = json{{"dir", o.checkpoint.dir},
                              {"interval", o.checkpoint.interval > 0 ? format_duration(o.checkpoint.interval) : ""},
                              {"state_backend", o.checkpoint.backend}};
    }
    j["plan"] = h->plan().explain;
    reply(res, 200, j);
  });

  // The views of one job (server/job_views.h); 404 for an unknown job.
  auto view = [this](json (*make)(const engine::JobHandle&)) {
    return [this, make](const httplib::Request& req, httplib::Response& res) {
      auto h = engine_.find(req.matches[1]);
      if (!h) return error(res, 404, fmt::format("no job named '{}'", std::string(req.matches[1])));
      reply(res, 200, make(*h));
    };
  };
  s.Get(R"(/api/v1/jobs/([^/]+)/plan)", view(&plan_view));
  s.Get(R"(/api/v1/jobs/([^/]+)/watermarks)", view(&watermarks_view));
  s.Get(R"(/api/v1/jobs/([^/]+)/checkpoints)", view(&checkpoints_view));

  s.Get(R"(/api/v1/jobs/([^/]+)/dlq)", [this](const httplib::Request& req, httplib::Response& res) {
    auto h = engine_.find(req.matches[1]);
    if (!h) return error(res, 404, fmt::format("no job named '{}'", std::string(req.matches[1])));
    const auto offset = size_param(req, "offset", 0);
    const auto limit = size_param(req, "limit", kDefaultDlqLimit);
    if (!offset) return error(res, 400, "offset: expected a non-negative integer");
    if (!limit || *limit == 0) return error(res, 400, fmt::format("limit: expected an integer from 1 to {}", kMaxDlqLimit));
    const std::string kind = req.get_param_value("kind");
    SideOutputKind k = SideOutputKind::kDeadLetters;
    if (kind == "late") {
      k = SideOutputKind::kLateData;
    } else if (!kind.empty() && kind != "dlq") {
      return error(res, 400, "kind: expected dlq or late");
    }
    reply(res, 200, side_records_view(*h, *offset, std::min(*limit, kMaxDlqLimit), kind.empty() ? nullptr : &k));
  });

  s.Get(R"(/api/v1/jobs/([^/]+)/stream)", [this](const httplib::Request& req, httplib::Response& res) {
    serve_stream(req, res);
  });

  s.Post(R"(/api/v1/jobs/([^/]+)/savepoint)", [this](const httplib::Request& req, httplib::Response& res) {
    auto h = engine_.find(req.matches[1]);
    if (!h) return error(res, 404, fmt::format("no job named '{}'", std::string(req.matches[1])));
    if (!h->options().checkpoint.enabled()) {
      return error(res, 409, "the job does not checkpoint (run it with --checkpoint-dir)");
    }
    h->savepoint(false);
    reply(res, 202, json{{"requested", "savepoint"}, {"dir", h->options().checkpoint.dir}});
  });

  s.Post(R"(/api/v1/jobs/([^/]+)/stop)", [this](const httplib::Request& req, httplib::Response& res) {
    auto h = engine_.find(req.matches[1]);
    if (!h) return error(res, 404, fmt::format("no job named '{}'", std::string(req.matches[1])));
    const std::string with = req.get_param_value("savepoint");
    if (!with.empty() && with != "true" && with != "false") {
      return error(res, 400, "savepoint: expected true or false");
    }
    if (with == "true") {
      if (!h->options().checkpoint.enabled()) {
        return error(res, 409, "the job does not checkpoint (run it with --checkpoint-dir)");
      }
      h->savepoint(true);
      return reply(res, 202, json{{"requested", "stop with savepoint"}});
    }
    h->stop();
    reply(res, 202, json{{"requested", "stop"}});
  });

  if (options_.metrics) {
    auto render = options_.metrics;
    s.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
      res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }

  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      error(res, res.status, res.status == 404 ? "not found" : fmt::format("HTTP status {}", res.status));
    }
  });
}

// GET /api/v1/jobs/NAME/stream?table=T: server-sent events of the rows sink table T
// receives (runtime/batch_tap.h). Each event is `event: rows` with
// {"seq", "lost", "columns", "rows": [{"op": "+I", col: value, ...}, ...]}; a comment line
// every second keeps the connection checked; `event: end` when the job ended.
void HttpServer::serve_stream(const httplib::Request& req, httplib::Response& res) {
  auto h = engine_.find(req.matches[1]);
  if (!h) return error(res, 404, fmt::format("no job named '{}'", std::string(req.matches[1])));
  const std::string table = req.get_param_value("table");
  const std::vector<std::string> tables = h->job().tapped_tables();
  BatchTap* tap = table.empty() ? nullptr : h->job().tap(table);
  if (!tap) {
    std::string names;
    for (const auto& t : tables) names += (names.empty() ? "" : ", ") + t;
    return error(res, table.empty() ? 400 : 404,
                 fmt::format("{}: expected ?table= one of the job's sink tables ({})",
                             table.empty() ? "no table" : "no sink table '" + table + "'", names));
  }
  // Each stream holds a worker thread: keep some free for the rest of the API.
  if (streams_.fetch_add(1) >= kMaxStreams) {
    streams_.fetch_sub(1);
    return error(res, 503, fmt::format("at most {} streams at once", kMaxStreams));
  }
  struct Stream {
    std::shared_ptr<engine::JobHandle> job;
    BatchTap::Listener listener;
    JsonEncoder encoder;
    uint64_t events = 0;
    Stream(std::shared_ptr<engine::JobHandle> j, BatchTap& tap)
        : job(std::move(j)), listener(tap), encoder(FormatOptions{"json"}, tap.schema()) {}
  };
  auto stream = std::make_shared<Stream>(h, *tap);
  json columns = json::array();
  for (const auto& f : tap->schema()->fields()) columns.push_back(json{{"name", f.name}, {"type", type_name(f.type)}});
  const std::string column_list = columns.dump();
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, stream, column_list](size_t, httplib::DataSink& sink) {
        if (stopping_.load() || !sink.is_writable()) return false;
        const engine::JobState state = stream->job->status().state;
        uint64_t lost = 0;
        auto batches = stream->listener.next(std::chrono::milliseconds(1000), &lost);
        std::string out;
        size_t rows = 0;
        for (const BatchPtr& b : batches) {
          if (rows >= kMaxRowsPerEvent) {
            lost += 1;  // this batch and those after it, for the stream
            continue;
          }
          for (size_t r = 0; r < b->num_rows && rows < kMaxRowsPerEvent; ++r, ++rows) {
            out += rows == 0 ? "" : ",";
            stream->encoder.encode_row(*b, r, /*with_op=*/true, out);
            if (!out.empty() && out.back() == '\n') out.pop_back();  // one event: one data line
          }
        }
        std::string event;
        if (rows > 0 || lost > 0) {
          event = fmt::format("event: rows\ndata: {{\"seq\":{},\"lost\":{},\"columns\":{},\"rows\":[{}]}}\n\n",
                              ++stream->events, lost, column_list, out);
        } else {
          event = ": waiting\n\n";
        }
        if (!sink.write(event.data(), event.size())) return false;
        if (state != engine::JobState::kRunning && state != engine::JobState::kCreated) {
          const std::string end = "event: end\ndata: {}\n\n";
          sink.write(end.data(), end.size());
          sink.done();
        }
        return true;
      },
      [this](bool) { streams_.fetch_sub(1); });
}

namespace {
constexpr int kServerNice = 19;
}  // namespace

Status HttpServer::start() {
  if (thread_.joinable()) return invalid_argument("the HTTP server is already running");
  if (!is_loopback(options_.host) && options_.token.empty()) {
    return invalid_argument("HTTP server: '{}' is not a loopback address and no token is set", options_.host);
  }
  routes();
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ < 0) return io_error("HTTP server: cannot bind {}", options_.host);
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      return io_error("HTTP server: cannot bind {}:{} (in use, or not an address of this machine)", options_.host,
                      options_.port);
    }
    port_ = options_.port;
  }
  thread_ = std::thread([this] {
    // Observability must not slow the data path: the listener, and the worker pool it
    // creates (threads inherit their creator's nice value), run at the lowest CPU priority,
    // so a burst of requests or scrapes takes only CPU the job's threads leave idle. Best
    // effort: without the permission to lower it (never needed) serving goes on as it is.
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kServerNice);
    server_->listen_after_bind();
  });
  return Status::ok();
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  server_->stop();
  thread_.join();
}

}  // namespace sluice::server
