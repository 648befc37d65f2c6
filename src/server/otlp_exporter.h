// OtlpExporter: sends the spans the tracer (common/trace.h) buffers to an OpenTelemetry
// collector as OTLP/HTTP JSON (POST <endpoint>, e.g. http://127.0.0.1:4318/v1/traces), from
// its own thread every `interval`, and once more when stopped. A failed export is logged
// (once per failure streak) and its spans dropped: tracing never slows or stops the job.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "common/time_util.h"

namespace sluice::server {

class OtlpExporter {
 public:
  // `endpoint`: http://host:port/path (https is not supported: send to a local collector).
  static Result<std::unique_ptr<OtlpExporter>> start(const std::string& endpoint, Micros interval = 500000);
  ~OtlpExporter();  // stop()
  // Exports what is buffered and ends the thread.
  void stop();
  uint64_t exported() const { return exported_.load(); }

 private:
  OtlpExporter(std::string host, int port, std::string path, Micros interval);
  void run();
  bool export_once();

  std::string host_, path_;
  int port_;
  Micros interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool failing_ = false;
  std::atomic<uint64_t> exported_{0};
  std::thread thread_;
};

}  // namespace sluice::server
