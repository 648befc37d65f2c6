// score(...) end to end: `sluice run` against a real model server process on loopback
// (sluice-model-server, src/scoring/testing/model_server.h). Results equal the model's
// answers for every row (ordered: in input order; unordered: the same multiset; micro-
// batches; parallelism and batch sizes); with the server killed mid-run the job keeps going
// on the fallback and /metrics shows the breaker open; and the audit trail written to an
// exactly-once SQLite sink holds every decision exactly once through kill -9 and restarts.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "scoring/testing/model.h"
#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::metric_value;

using testing::TempDir;

// The model server as a child process (so a test can kill it); killed when the object dies.
class ModelServerProcess {
 public:
  explicit ModelServerProcess(const TempDir& dir) : log_(dir.file("model_server.log")) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      execl(SLUICE_MODEL_SERVER, SLUICE_MODEL_SERVER, "--port", "0", static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::regex listening(R"(listening on (\d+))");
    for (int i = 0; i < 1000 && port_ == 0; ++i) {
      std::smatch m;
      const std::string text = testing::read_file(log_);
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~ModelServerProcess() { kill_now(); }
  void kill_now() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/score"; }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

constexpr int kTxns = 3000;

// txn i: amount (i * 7919) % 3000 + 0.5, so scores cover [0, 1].
std::string write_txns(const TempDir& dir) {
  std::ostringstream out;
  for (int i = 0; i < kTxns; ++i) {
    out << R"({"txn_id": )" << i << R"(, "user_id": )" << (i % 37) << R"(, "amount": )" << ((i * 7919) % 3000) << ".5"
        << R"(, "ts": "2024-01-01T00:00:)" << (10 + i % 40) << R"(Z"})" << "\n";
  }
  testing::write_file(dir.file("txns.jsonl"), out.str());
  return dir.file("txns.jsonl");
}

std::string expected_response(int txn) {
  nlohmann::json in = {{"id", txn}, {"amount", static_cast<double>((txn * 7919) % 3000) + 0.5}};
  return testing_scoring::score_request(in, "v1").dump();
}

std::string scoring_job(const std::string& url, const std::string& extra_args) {
  return R"(
CREATE TABLE txns (txn_id BIGINT, user_id BIGINT, amount DOUBLE, ts TIMESTAMP)
  WITH (connector = 'file', path = 'txns.jsonl', format = 'json', event_time = 'ts');
CREATE TABLE out (txn_id BIGINT, response TEXT) WITH (connector = 'file', path = 'out.jsonl', format = 'json');
INSERT INTO out
SELECT txn_id,
       score(url => ')" + url + R"(',
             body => '{"id":' || CAST(txn_id AS TEXT) || ',"amount":' || CAST(amount AS TEXT) || '}',
             timeout => INTERVAL '5' SECOND)" + extra_args + R"() AS response
FROM txns WHERE txn_id >= 0;
)";
}

// (txn_id, response) of every output line, in file order.
std::vector<std::pair<int, std::string>> read_out(const std::string& path) {
  std::vector<std::pair<int, std::string>> rows;
  std::istringstream in(testing::read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    rows.emplace_back(j["txn_id"].get<int>(), j["response"].is_null() ? "NULL" : j["response"].get<std::string>());
  }
  return rows;
}

struct Variant {
  const char* name;
  std::string score_args;
  std::string run_args;
  bool ordered;
};

TEST(ScoringE2ETest, EveryRowGetsTheModelsAnswerInEveryMode) {
  TempDir dir;
  ModelServerProcess server(dir);
  ASSERT_GT(server.port(), 0);
  write_txns(dir);
  const std::vector<Variant> variants = {
      {"ordered", "", "", true},
      {"ordered, -p 2 --batch-size 7", "", "-p 2 --batch-size 7", true},
      {"unordered, batch size 13", ", ordered => FALSE, max_in_flight => 4", "--batch-size 13", false},
      {"micro-batches of 16", ", batch_size => 16", "--batch-size 100", true},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    std::filesystem::remove(dir.file("out.jsonl"));
    testing::write_file(dir.file("job.sql"), scoring_job(server.url(), v.score_args));
    auto r = testing::run_sluice("run -q " + v.run_args + " job.sql", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto rows = read_out(dir.file("out.jsonl"));
    ASSERT_EQ(rows.size(), static_cast<size_t>(kTxns));
    for (const auto& [txn, response] : rows) ASSERT_EQ(response, expected_response(txn)) << "txn " << txn;
    std::vector<int> ids;
    for (const auto& row : rows) ids.push_back(row.first);
    if (!v.ordered) std::sort(ids.begin(), ids.end());
    for (int i = 0; i < kTxns; ++i) ASSERT_EQ(ids[static_cast<size_t>(i)], i) << "position " << i;
  }
}

TEST(ScoringE2ETest, ExplainShowsTheScoringStage) {
  TempDir dir;
  write_txns(dir);
  testing::write_file(dir.file("job.sql"), scoring_job("http://127.0.0.1:9/score", ""));
  auto r = testing::run_sluice("explain job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("score url=http://127.0.0.1:9/score"), std::string::npos) << r.output;
}

TEST(ScoringE2ETest, MisusedScoreIsRefusedWithAPosition) {
  TempDir dir;
  write_txns(dir);
  const std::string head =
      "CREATE TABLE txns (txn_id BIGINT, amount DOUBLE) WITH (connector = 'file', path = 'txns.jsonl', format = "
      "'json');\nCREATE TABLE out (a TEXT) WITH (connector = 'file', path = 'out.jsonl', format = 'json');\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"INSERT INTO out SELECT score(body => 'x') FROM txns;", "the url argument is required"},
      {"INSERT INTO out SELECT score(url => 'ftp://x') FROM txns;", "must start with http://"},
      {"INSERT INTO out SELECT score(url => 'http://x', fallback => 'not json') FROM txns;", "fallback must be JSON"},
      {"INSERT INTO out SELECT score(url => 'http://x', colour => 1) FROM txns;", "unknown argument 'colour'"},
      {"INSERT INTO out SELECT score('http://x', amount) FROM txns;", "body must be TEXT"},
      {"INSERT INTO out SELECT CAST(decision_time() AS TEXT) FROM txns;", "use it in a SELECT list with score"},
      {"INSERT INTO out SELECT CAST(COUNT(*) AS TEXT) FROM txns WHERE score('http://x') IS NULL;",
       "allowed only in the SELECT list"},
  };
  for (const auto& [query, message] : cases) {
    testing::write_file(dir.file("job.sql"), head + query + "\n");
    auto r = testing::run_sluice("validate job.sql", dir.path());
    EXPECT_NE(r.exit_code, 0) << query;
    EXPECT_NE(r.output.find(message), std::string::npos) << query << "\n" << r.output;
    EXPECT_NE(r.output.find("job.sql:3:"), std::string::npos) << query << "\n" << r.output;
  }
}

TEST(ScoringE2ETest, WithADlqTheRowsOfFailedCallsGoThereNamingTheReason) {
  TempDir dir;
  write_txns(dir);
  // Nothing listens on this port: every call fails to connect.
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::free_port()) + "/score";
  testing::write_file(dir.file("job.sql"),
                      scoring_job(url, ", max_attempts => 1, breaker_failures => 3, dlq => 'failed.jsonl'"));
  auto r = testing::run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(read_out(dir.file("out.jsonl")).empty());
  std::istringstream in(testing::read_file(dir.file("failed.jsonl")));
  std::string line;
  std::vector<int> ids;
  while (std::getline(in, line)) {
    auto letter = nlohmann::json::parse(line);
    const std::string error = letter["error"].get<std::string>();
    EXPECT_TRUE(error.rfind("score connection:", 0) == 0 || error.rfind("score circuit_open:", 0) == 0) << error;
    ids.push_back(nlohmann::json::parse(letter["raw"].get<std::string>())["id"].get<int>());
  }
  ASSERT_EQ(ids.size(), static_cast<size_t>(kTxns));
  for (int i = 0; i < kTxns; ++i) EXPECT_EQ(ids[static_cast<size_t>(i)], i);
  // fallback and dlq together are refused.
  testing::write_file(dir.file("job.sql"), scoring_job(url, ", fallback => 0, dlq => 'failed.jsonl'"));
  r = testing::run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("either fallback"), std::string::npos) << r.output;
}

TEST(ScoringE2ETest, WithTheServerKilledMidRunTheJobGoesOnWithTheFallbackAndTheBreakerOpens) {
  TempDir dir;
  auto server = std::make_unique<ModelServerProcess>(dir);
  ASSERT_GT(server->port(), 0);
  const int events = 6000;
  testing::write_file(dir.file("job.sql"), R"(
CREATE TABLE clicks (user_id BIGINT, page TEXT, event_type TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '7', events = ')" + std::to_string(events) + R"(', rate = '2000');
CREATE TABLE out (ts TIMESTAMP, version TEXT) WITH (connector = 'file', path = 'out.jsonl', format = 'json');
INSERT INTO out
SELECT ts, score(url => ')" + server->url() + R"(', timeout => INTERVAL '3 seconds',
                 fallback => '{"model_version": "fallback"}', max_attempts => 2,
                 breaker_failures => 3, breaker_cooldown => INTERVAL '1' MINUTE) ->> 'model_version' AS version
FROM clicks;
)");
  const std::string log = dir.file("job.log");
  pid_t job = testing::spawn_sluice({"run", "--http", "127.0.0.1:0", "job.sql"}, dir.path(), log);
  ASSERT_GT(job, 0);
  const int http = testing::serving_port(log);
  ASSERT_GT(http, 0) << testing::read_file(log);
  // Scoring works first: the breaker reads closed and calls complete.
  std::optional<double> calls;
  for (int i = 0; i < 500 && calls.value_or(0) < 100; ++i) {
    calls = metric_value(testing::http_body(testing::http_request(http, "GET", "/metrics")),
                         "sluice_scoring_calls_total");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(calls.value_or(0), 100) << testing::read_file(log);
  EXPECT_EQ(metric_value(testing::http_body(testing::http_request(http, "GET", "/metrics")),
                         "sluice_scoring_circuit_state"),
            0.0);
  server->kill_now();
  // The breaker opens, and /metrics says so while the job runs on.
  std::optional<double> state;
  for (int i = 0; i < 500 && state.value_or(0) != 1.0; ++i) {
    state = metric_value(testing::http_body(testing::http_request(http, "GET", "/metrics")),
                         "sluice_scoring_circuit_state");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(state.value_or(-1), 1.0) << testing::read_file(log);
  const std::string metrics = testing::http_body(testing::http_request(http, "GET", "/metrics"));
  EXPECT_GT(metric_value(metrics, "sluice_scoring_fallbacks_total").value_or(0), 0) << metrics;
  EXPECT_GT(metric_value(metrics, "sluice_scoring_short_circuited_total").value_or(0), 0) << metrics;
  ASSERT_EQ(testing::wait_exit(job), 0) << testing::read_file(log);
  // Every event was written: scored before the kill, the fallback after.
  std::istringstream in(testing::read_file(dir.file("out.jsonl")));
  std::string line;
  int v1 = 0, fallback = 0, other = 0;
  bool fallback_seen = false;
  int v1_after_fallback = 0;
  while (std::getline(in, line)) {
    const std::string version = nlohmann::json::parse(line)["version"].get<std::string>();
    if (version == "v1") {
      ++v1;
      if (fallback_seen) ++v1_after_fallback;
    } else if (version == "fallback") {
      ++fallback;
      fallback_seen = true;
    } else {
      ++other;
    }
  }
  EXPECT_EQ(v1 + fallback + other, events);
  EXPECT_EQ(other, 0);
  EXPECT_GE(v1, 100);
  EXPECT_GT(fallback, 0);
  // Ordered output: the kill splits it in two, except for the calls in flight at the kill
  // (up to max_in_flight = 64 of one row each): one sent earlier may fail while a later one
  // was already answered. Nothing scored comes after them.
  EXPECT_LT(v1_after_fallback, 64);
}

TEST(ScoringE2ETest, TheAuditTrailHoldsEveryDecisionExactlyOnceThroughKillsAndRestarts) {
  TempDir dir;
  ModelServerProcess server(dir);
  ASSERT_GT(server.port(), 0);
  const int events = 9000;
  testing::write_file(dir.file("job.sql"), R"(
CREATE TABLE clicks (user_id BIGINT, page TEXT, event_type TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '9', events = ')" + std::to_string(events) + R"(', rate = '3000',
        event_time = 'ts');
CREATE TABLE audit (user_id BIGINT, page TEXT, ts TIMESTAMP, score DOUBLE, model_version TEXT, decision TEXT,
                    ingested_at TIMESTAMP, decided_at TIMESTAMP)
  WITH (connector = 'sqlite', path = 'audit.db', table = 'audit');
CREATE VIEW scored AS
SELECT user_id, page, ts,
       score(url => ')" + server.url() + R"(', timeout => INTERVAL '2' SECOND, max_in_flight => 8,
             fallback => '{"score": 0, "model_version": "fallback"}') AS response,
       ingest_time() AS ingested_at, decision_time() AS decided_at
FROM clicks;
INSERT INTO audit
SELECT user_id, page, ts, CAST(response ->> 'score' AS DOUBLE), response ->> 'model_version',
       CASE WHEN user_id % 10 = 0 THEN 'review' ELSE 'approve' END, ingested_at, decided_at
FROM scored;
)");
  const std::string log = dir.file("job.log");
  const std::vector<std::string> args = {"run", "-q", "--checkpoint-dir", "ckpt", "--checkpoint-interval", "200ms",
                                         "job.sql"};
  int kills = 0;
  for (int run = 0; run < 3; ++run) {
    pid_t job = testing::spawn_sluice(args, dir.path(), log);
    ASSERT_GT(job, 0);
    ASSERT_TRUE(testing::wait_for_pid_file(dir.file("ckpt/sluice.pid"), job)) << testing::read_file(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    kill(job, SIGKILL);
    const int code = testing::wait_exit(job);
    if (code == -SIGKILL) ++kills;
  }
  EXPECT_GE(kills, 2) << "the job finished before it could be killed";
  pid_t job = testing::spawn_sluice(args, dir.path(), log);
  ASSERT_EQ(testing::wait_exit(job), 0) << testing::read_file(log);
  const std::string db = dir.file("audit.db");
  EXPECT_EQ(testing::sqlite_query(db, "SELECT COUNT(*), COUNT(DISTINCT ts) FROM audit"),
            std::to_string(events) + "|" + std::to_string(events) + "\n");
  EXPECT_EQ(testing::sqlite_query(db, "SELECT COUNT(*) FROM audit WHERE model_version <> 'v1' OR score IS NULL "
                                      "OR decided_at IS NULL OR ingested_at IS NULL OR decided_at < ingested_at"),
            "0\n");
}

}  // namespace
}  // namespace sluice
