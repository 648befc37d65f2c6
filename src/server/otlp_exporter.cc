#include "server/otlp_exporter.h"

#include <httplib.h>

#include <charconv>

#include "common/logging.h"
#include "common/trace.h"

namespace sluice::server {

Result<std::unique_ptr<OtlpExporter>> OtlpExporter::start(const std::string& endpoint, Micros interval) {
  std::string_view rest = endpoint;
  if (rest.rfind("http://", 0) != 0) {
    return invalid_argument("--trace-endpoint: '{}' must be an http:// URL (an OTLP/HTTP collector, e.g. "
                            "http://127.0.0.1:4318/v1/traces)",
                            endpoint);
  }
  rest.remove_prefix(7);
  const size_t slash = rest.find('/');
  const std::string path = slash == std::string_view::npos ? "/v1/traces" : std::string(rest.substr(slash));
  std::string_view hostport = rest.substr(0, slash);
  int port = 80;
  const size_t colon = hostport.rfind(':');
  std::string host(hostport.substr(0, colon));
  if (colon != std::string_view::npos) {
    std::string_view p = hostport.substr(colon + 1);
    auto r = std::from_chars(p.data(), p.data() + p.size(), port);
    if (r.ec != std::errc() || r.ptr != p.data() + p.size() || port <= 0 || port > 65535) {
      return invalid_argument("--trace-endpoint: '{}' has no valid port", endpoint);
    }
  }
  if (host.empty()) return invalid_argument("--trace-endpoint: '{}' has no host", endpoint);
  std::unique_ptr<OtlpExporter> e(new OtlpExporter(std::move(host), port, path, interval));
  e->thread_ = std::thread([p = e.get(), context = LogContext::current()] {
    LogContext::Scope scope(context);
    p->run();
  });
  return e;
}

OtlpExporter::OtlpExporter(std::string host, int port, std::string path, Micros interval)
    : host_(std::move(host)), path_(std::move(path)), port_(port), interval_(interval) {}

OtlpExporter::~OtlpExporter() { stop(); }

void OtlpExporter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OtlpExporter::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::microseconds(interval_), [this] { return stopping_; });
    lock.unlock();
    export_once();
    lock.lock();
  }
  lock.unlock();
  export_once();  // what the last moments of the job recorded
}

bool OtlpExporter::export_once() {
  std::vector<SpanRecord> spans = Tracer::global().take();
  if (spans.empty()) return true;
  const std::string body = Tracer::global().to_otlp_json(spans);
  httplib::Client client(host_, port_);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(5, 0);
  client.set_write_timeout(5, 0);
  auto res = client.Post(path_, body, "application/json");
  const bool ok = res && res->status >= 200 && res->status < 300;
  if (!ok && !failing_) {
    log_warn("traces: exporting {} spans to http://{}:{}{} failed ({}); dropping spans until it works again",
             spans.size(), host_, port_, path_,
             res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error()));
  }
  failing_ = !ok;
  if (ok) exported_ += spans.size();
  return ok;
}

}  // namespace sluice::server
