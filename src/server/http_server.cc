#include "server/http_server.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <fstream>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/time_util.h"

namespace sluice::server {
namespace {

using json = nlohmann::json;

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Compares in time independent of where the strings differ.
bool same_secret(const std::string& want, const std::string& got) {
  if (want.empty() || want.size() != got.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned char>(want[i] ^ got[i]);
  return diff == 0;
}

std::string watermark_text(int64_t wm) {
  if (wm == kMinWatermark) return "";
  if (wm == kMaxWatermark) return "end";
  return format_timestamp(wm);
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
  res.set_content(body.dump(), "application/json");
}

void error(httplib::Response& res, int status, const std::string& message) {
  reply(res, status, json{{"error", message}});
}

}  // namespace

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

Result<HttpServerOptions> http_options(const std::string& address, const std::string& token_file) {
  HttpServerOptions o;
  std::string host = "127.0.0.1", port_text = address;
  const size_t colon = address.rfind(':');
  if (colon != std::string::npos) {
    host = address.substr(0, colon);
    port_text = address.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "127.0.0.1";
  }
  char* end = nullptr;
  long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 0 || port > 65535) {
    return invalid_argument("--http: expected HOST:PORT (e.g. 127.0.0.1:8080), got '{}'", address);
  }
  o.host = host;
  o.port = static_cast<int>(port);
  if (!token_file.empty()) {
    struct stat st{};
    if (::stat(token_file.c_str(), &st) != 0) return not_found("--http-token-file: cannot read '{}'", token_file);
    if ((st.st_mode & 0077) != 0) {
      return invalid_argument("--http-token-file: '{}' is readable by others (mode {:o}); chmod 600 it", token_file,
                              st.st_mode & 0777);
    }
    std::ifstream in(token_file);
    std::string line;
    std::getline(in, line);
    o.token = trim(line);
    if (o.token.size() < 16) return invalid_argument("--http-token-file: the token must have at least 16 characters");
  }
  if (!is_loopback(o.host) && o.token.empty()) {
    return invalid_argument(
        "--http: binding to '{}' (not a loopback address) needs a bearer token: --http-token-file FILE", o.host);
  }
  return o;
}

HttpServer::HttpServer(engine::Engine& engine, HttpServerOptions options)
    : engine_(engine), options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {}

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
  const std::string token = options_.token;
  s.set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    if (token.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.size() > prefix.size() && auth.compare(0, prefix.size(), prefix) == 0 &&
        same_secret(token, auth.substr(prefix.size()))) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    error(res, 401, "missing or wrong bearer token");
    return httplib::Server::HandlerResponse::Handled;
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
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::ok();
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace sluice::server
