// Monitoring end to end: a running job's /metrics passes `promtool check metrics` and its
// counters equal the job's real counts; a real Prometheus server (started here) scrapes it,
// PromQL returns the throughput series, and deploy/alerts.yml loads; every metric the rules
// and the Grafana dashboard name is one the binary exports.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_helpers.h"

namespace sluice {
namespace {

using json = nlohmann::json;
using testing::http_body;
using testing::http_request;
using testing::read_file;
using testing::spawn_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

template <typename Pred>
bool eventually(Pred pred, int seconds = 20) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Sum of the samples of `name` (exact family name, any labels) in a text exposition.
double sum_samples(const std::string& exposition, const std::string& name) {
  double total = 0;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != '{' && next != ' ') continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

// Family names declared by "# TYPE name type" lines.
std::set<std::string> families(const std::string& exposition) {
  std::set<std::string> out;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) out.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  return out;
}

// Metric names in a rules or dashboard file (histogram series suffixes removed).
std::set<std::string> referenced(const std::string& text) {
  std::set<std::string> out;
  const std::regex name(R"(sluice_[a-z_]+)");
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
    std::string n = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) n.resize(n.size() - s.size());
    }
    out.insert(n);
  }
  return out;
}

std::string lines(int from, int to, bool with_bad) {
  std::string out;
  for (int i = from; i <= to; ++i) {
    // Event time i seconds after midnight; every 50th record is 2 minutes late.
    const int t = (i % 50 == 0 && i > 200) ? i - 120 : i;
    out += "{\"n\": " + std::to_string(i) + ", \"ts\": \"2024-01-01T" + fmt::format("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) + "Z\"}\n";
    if (with_bad && i % 100 == 0) out += "{\"n\": oops}\n";
  }
  return out;
}

class PrometheusTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t p : {job_, prometheus_}) {
      if (p > 0) {
        kill(p, SIGKILL);
        testing::wait_exit(p);
      }
    }
  }
  TempDir dir_;
  pid_t job_ = -1;
  pid_t prometheus_ = -1;
};

TEST_F(PrometheusTest, ScrapedByARealPrometheusWithTheRulesLoaded) {
  ASSERT_EQ(::access("/usr/bin/prometheus", X_OK), 0) << "prometheus is not installed (scripts/install-deps.sh)";
  ASSERT_EQ(::access("/usr/bin/promtool", X_OK), 0) << "promtool is not installed (scripts/install-deps.sh)";
  write_file(dir_.file("in.jsonl"), lines(1, 1000, true));
  write_file(dir_.file("job.sql"), with_dir(R"(
    CREATE TABLE src (n BIGINT, ts TIMESTAMP)
      WITH (connector = 'file', path = '{DIR}/in.jsonl', follow = 'true', event_time = 'ts',
            late_output = '{DIR}/late.jsonl');
    CREATE TABLE per_minute () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO per_minute
    SELECT window_start, COUNT(*) AS n FROM TUMBLE(src, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end;)",
                                           dir_.path()));
  job_ = spawn_sluice({"run", "job.sql", "--http", "127.0.0.1:0", "--checkpoint-dir", "ck", "--checkpoint-interval",
                       "200ms"},
                      dir_.path(), dir_.file("log.txt"));
  int port = 0;
  const std::regex serving(R"(serving http://127\.0\.0\.1:(\d+))");
  ASSERT_TRUE(eventually([&] {
    std::smatch m;
    std::string log = read_file(dir_.file("log.txt"));
    if (std::regex_search(log, m, serving)) port = std::stoi(m[1]);
    return port > 0;
  })) << read_file(dir_.file("log.txt"));

  // 1. The exposition: promtool accepts it; the counters equal the job's counts.
  std::string metrics;
  ASSERT_TRUE(eventually([&] {
    metrics = http_body(http_request(port, "GET", "/metrics"));
    return sum_samples(metrics, "sluice_source_records_total") == 1010 &&
           sum_samples(metrics, "sluice_checkpoints_completed_total") >= 1;
  })) << metrics;
  write_file(dir_.file("scraped.txt"), metrics);
  const std::string check = "promtool check metrics < " + dir_.file("scraped.txt") + " > " + dir_.file("promtool.txt") + " 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << read_file(dir_.file("promtool.txt"));
  EXPECT_EQ(sum_samples(metrics, "sluice_dead_lettered_records_total"), 10);
  // Late: records 250, 300, ..., 1000 are 2 minutes behind (16 records), each late once.
  EXPECT_EQ(sum_samples(metrics, "sluice_late_records_total"), 16) << metrics;

  // 2. Every metric the rules and the dashboard name is exported.
  const std::string rules = read_file(std::string(SLUICE_SOURCE_DIR) + "/deploy/alerts.yml");
  const std::string dashboard = read_file(std::string(SLUICE_SOURCE_DIR) + "/deploy/grafana-dashboard.json");
  ASSERT_FALSE(rules.empty());
  ASSERT_FALSE(dashboard.empty());
  const std::set<std::string> exported = families(metrics);
  for (const auto& text : {rules, dashboard}) {
    for (const std::string& name : referenced(text)) {
      EXPECT_TRUE(exported.count(name)) << name << " is named in deploy/ but not exported";
    }
  }

  // 3. A real Prometheus scrapes the job every 500 ms with the alerting rules loaded.
  const int prom_port = testing::free_port();
  write_file(dir_.file("prom.yml"), fmt::format(R"(global:
  scrape_interval: 500ms
  evaluation_interval: 1s
rule_files:
  - {}/deploy/alerts.yml
scrape_configs:
  - job_name: sluice
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:{}"]
)",
                                                SLUICE_SOURCE_DIR, port));
  prometheus_ = fork();
  if (prometheus_ == 0) {
    int fd = ::open(dir_.file("prometheus.log").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    const std::string config = "--config.file=" + dir_.file("prom.yml");
    const std::string storage = "--storage.tsdb.path=" + dir_.file("tsdb");
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(prom_port);
    execl("/usr/bin/prometheus", "prometheus", config.c_str(), storage.c_str(), listen.c_str(), nullptr);
    _exit(127);
  }
  ASSERT_TRUE(eventually([&] { return http_request(prom_port, "GET", "/-/ready").rfind("HTTP/1.1 200", 0) == 0; }))
      << read_file(dir_.file("prometheus.log"));
  // Keep data flowing so the rate is not zero.
  int written = 1000;
  auto query = [&](const std::string& promql) {
    std::string encoded;
    for (char c : promql) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') encoded += c;
      else encoded += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
    std::string body = http_body(http_request(prom_port, "GET", "/api/v1/query?query=" + encoded));
    return body.empty() ? json() : json::parse(body, nullptr, false);
  };
  json result;
  ASSERT_TRUE(eventually(
      [&] {
        std::ofstream(dir_.file("in.jsonl"), std::ios::app) << lines(written + 1, written + 200, false);
        written += 200;
        result = query("sum by (job, source) (rate(sluice_source_records_total[3s]))");
        if (!result.is_object() || result["status"] != "success" || result["data"]["result"].empty()) return false;
        return std::stod(result["data"]["result"][0]["value"][1].get<std::string>()) > 0;
      },
      30))
      << result.dump() << "\n" << read_file(dir_.file("prometheus.log"));
  EXPECT_EQ(result["data"]["result"][0]["metric"]["job"], "job");
  EXPECT_EQ(result["data"]["result"][0]["metric"]["source"], "src");

  json rules_reply = json::parse(http_body(http_request(prom_port, "GET", "/api/v1/rules")), nullptr, false);
  ASSERT_TRUE(rules_reply.is_object()) << read_file(dir_.file("prometheus.log"));
  size_t loaded = 0;
  for (const auto& group : rules_reply["data"]["groups"]) {
    for (const auto& rule : group["rules"]) {
      ++loaded;
      EXPECT_NE(rule.value("health", ""), "err") << rule.dump();
    }
  }
  // Every rule of deploy/alerts.yml loaded.
  size_t declared = 0;
  for (size_t at = rules.find("- alert:"); at != std::string::npos; at = rules.find("- alert:", at + 1)) ++declared;
  EXPECT_GE(declared, 8u);
  EXPECT_EQ(loaded, declared) << rules_reply.dump();

  EXPECT_EQ(http_request(port, "POST", "/api/v1/jobs/job/stop").rfind("HTTP/1.1 202", 0), 0u);
  EXPECT_EQ(testing::wait_exit(job_), 0) << read_file(dir_.file("log.txt"));
  job_ = -1;
}

}  // namespace
}  // namespace sluice
