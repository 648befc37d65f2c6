// Traces (issue 13 point 6): `sluice run --trace-endpoint URL --trace-sample F` sends
// OpenTelemetry spans as OTLP/HTTP JSON to a collector (here an HTTP server in the test
// process). A sampled batch's trace holds the source span (the root), a span per task that
// processed it (each the child of the one before) and the sink's commit span; a sink that
// is slow on purpose (blackhole commit_delay) shows as a long commit span. Without the flag
// nothing is sent.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "test_helpers.h"

namespace sluice::testing {
namespace {

class Collector {
 public:
  Collector() {
    server_.Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(req.body);
      content_types_.insert(req.get_header_value("Content-Type"));
      res.status = 200;
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Collector() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<nlohmann::json> spans() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<nlohmann::json> out;
    for (const auto& b : bodies_) {
      auto j = nlohmann::json::parse(b);
      EXPECT_EQ(j["resourceSpans"][0]["resource"]["attributes"][0]["key"], "service.name");
      for (const auto& s : j["resourceSpans"][0]["scopeSpans"][0]["spans"]) out.push_back(s);
    }
    return out;
  }
  std::set<std::string> content_types() {
    std::lock_guard<std::mutex> lock(mu_);
    return content_types_;
  }
  size_t posts() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_.size();
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::set<std::string> content_types_;
};

const char* kJob = R"(
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '3', events = '20000', users = '50', pages = '10', event_time = 'ts');
CREATE TABLE out (page TEXT, n BIGINT)
  WITH (connector = 'blackhole', commit_delay = '150ms');
INSERT INTO out SELECT page, COUNT(*) FROM clicks GROUP BY page;
)";

int64_t nanos(const nlohmann::json& span, const char* field) { return std::stoll(span[field].get<std::string>()); }

TEST(TracesTest, SampledBatchesAreTracedFromSourceThroughEveryTaskToTheSinkCommit) {
  Collector collector;
  TempDir dir;
  write_file(dir.file("job.sql"), kJob);
  auto r = run_sluice(fmt::format("run -q job.sql -p 2 --checkpoint-dir ck --checkpoint-interval 100ms "
                                  "--trace-endpoint http://127.0.0.1:{}/v1/traces --trace-sample 1",
                                  collector.port()),
                      dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto spans = collector.spans();
  ASSERT_FALSE(spans.empty());
  EXPECT_EQ(collector.content_types(), std::set<std::string>{"application/json"});
  std::map<std::string, nlohmann::json> by_id;
  std::map<std::string, std::vector<nlohmann::json>> by_trace;
  for (const auto& s : spans) {
    EXPECT_EQ(s["traceId"].get<std::string>().size(), 32u);
    EXPECT_EQ(s["spanId"].get<std::string>().size(), 16u);
    EXPECT_LE(nanos(s, "startTimeUnixNano"), nanos(s, "endTimeUnixNano"));
    by_id[s["spanId"]] = s;
    by_trace[s["traceId"]].push_back(s);
  }
  // Find a complete trace: a root "source clicks", a task span, a commit span.
  int complete = 0;
  int64_t slowest_commit_ns = 0;
  for (const auto& [trace, list] : by_trace) {
    bool root = false, task = false, commit = false;
    for (const auto& s : list) {
      const std::string name = s["name"];
      if (!s.contains("parentSpanId")) {
        EXPECT_EQ(name, "source clicks");
        root = true;
        continue;
      }
      const std::string parent = s["parentSpanId"];
      ASSERT_TRUE(by_id.count(parent)) << "the parent of " << name << " is in the export";
      EXPECT_EQ(by_id[parent]["traceId"], trace) << "parent and child share the trace";
      if (name == "commit out") {
        commit = true;
        slowest_commit_ns = std::max(slowest_commit_ns, nanos(s, "endTimeUnixNano") - nanos(s, "startTimeUnixNano"));
      } else {
        EXPECT_NE(name.find('['), std::string::npos) << "a task span is named after its task: " << name;
        task = true;
      }
    }
    if (root && task && commit) ++complete;
  }
  EXPECT_GT(complete, 0) << "a trace from the source through a task to the commit";
  EXPECT_GE(slowest_commit_ns, 150'000'000) << "the slow sink's commit shows";
}

TEST(TracesTest, WithoutAnEndpointNothingIsSentAndABadEndpointIsRefused) {
  Collector collector;
  TempDir dir;
  write_file(dir.file("job.sql"), kJob);
  auto r = run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(collector.posts(), 0u);
  r = run_sluice("run -q job.sql --trace-endpoint https://collector:4318", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("must be an http:// URL"), std::string::npos) << r.output;
  r = run_sluice(fmt::format("run -q job.sql --trace-endpoint http://127.0.0.1:{}/v1/traces --trace-sample 0",
                             collector.port()),
                 dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--trace-sample"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sluice::testing
