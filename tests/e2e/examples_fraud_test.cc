// examples/fraud end to end, with its real scoring service (scoring_server.py, a Python HTTP
// server on loopback) and generated events with known fraud cases: every injected case is
// found and no clean event is, every payment gets exactly one decision in the audit trail,
// and with the scoring service killed mid-run the job goes on on the fallback while
// /metrics shows the circuit breaker open.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::metric_value;

const std::string kExample = std::string(SLUICE_SOURCE_DIR) + "/examples/fraud";

nlohmann::json expected_cases(const std::string& dir) {
  return nlohmann::json::parse(testing::read_file(dir + "/expected.json"));
}

size_t line_count(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

// tx_id -> "decision|rule|model_version" of every row of the audit table; fails on a
// payment decided twice.
std::map<int64_t, std::string> decisions(const std::string& dir) {
  std::map<int64_t, std::string> out;
  for (const std::string& row : testing::sqlite_query_rows(
           dir + "/audit.db", "SELECT tx_id, decision, rule, model_version FROM decisions")) {
    const size_t bar = row.find('|');
    EXPECT_NE(bar, std::string::npos) << row;
    if (bar == std::string::npos) continue;
    const int64_t tx = std::stoll(row.substr(0, bar));
    EXPECT_TRUE(out.emplace(tx, row.substr(bar + 1)).second) << "payment " << tx << " decided twice";
  }
  return out;
}

std::string field(const std::string& row, int index) {
  std::istringstream in(row);
  std::string f;
  for (int i = 0; i <= index; ++i) std::getline(in, f, '|');
  return f;
}

TEST(FraudExampleTest, FlagsEveryInjectedCaseAndNoCleanOneEndToEnd) {
  testing::TempDir dir;
  // A generous call deadline: the Python service on a loaded machine (sanitizer runs) can
  // take longer than the example's 250 ms, and a fallback would hide a model case.
  auto r = testing::run_command("SCORING_TIMEOUT_MS=10000 " + kExample + "/run.sh " + testing::sluice_binary() +
                                " " + dir.path() + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json expected = expected_cases(dir.path());
  const auto decided = decisions(dir.path());
  ASSERT_EQ(decided.size(), line_count(dir.file("transactions.jsonl"))) << r.output;

  std::set<int64_t> blocked, want_blocked;
  for (const auto& [tx, row] : decided) {
    if (field(row, 0) == "block") blocked.insert(tx);
    EXPECT_EQ(field(row, 2), "fraud-logit-v1") << "payment " << tx << " was not scored: " << row;
  }
  for (const auto& c : expected["cases"]) {
    for (const auto& tx : c["blocked"]) {
      want_blocked.insert(tx.get<int64_t>());
      const std::string rule = c["kind"] == "rapid" ? "rapid_high_value" : "model_score";
      EXPECT_EQ(decided.at(tx.get<int64_t>()), "block|" + rule + "|fraud-logit-v1") << c.dump();
    }
  }
  EXPECT_FALSE(want_blocked.empty());
  EXPECT_EQ(blocked, want_blocked) << r.output;

  // The anomaly detector: one alert per injected takeover and nothing for anyone else, and
  // as evidence the user's API errors in the alert's span (five failed-login 401s and the
  // payment's 500).
  std::vector<std::string> want_alerts, want_evidence;
  for (const auto& u : expected["takeover_users"]) {
    want_alerts.push_back(u.get<std::string>() + "|5");
    want_evidence.push_back(u.get<std::string>() + "|6|1");
  }
  EXPECT_FALSE(want_alerts.empty());
  EXPECT_EQ(testing::sqlite_query_rows(dir.file("alerts.db"), "SELECT user_id, failures FROM alerts ORDER BY user_id"),
            want_alerts)
      << r.output;
  EXPECT_EQ(testing::sqlite_query_rows(dir.file("alerts.db"),
                                       "SELECT user_id, COUNT(*), SUM(status = 500) FROM evidence GROUP BY user_id "
                                       "ORDER BY user_id"),
            want_evidence)
      << r.output;
}

TEST(FraudExampleTest, WithTheScoringServiceKilledMidRunTheJobGoesOnOnTheFallback) {
  testing::TempDir dir;
  auto gen = testing::run_command("python3 " + kExample + "/generate.py " + dir.path() +
                                  " --users 800 --minutes 60 2>&1");
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  // The service answers 300 calls, then its process exits (a real death, mid-run).
  auto server = testing::run_command("cd " + dir.path() + " && (timeout 300 python3 " + kExample +
                                     "/scoring_server.py --port 0 --port-file scoring.port --die-after 300 "
                                     ">server.log 2>&1 &)");
  ASSERT_EQ(server.exit_code, 0);
  for (int i = 0; i < 200 && testing::read_file(dir.file("scoring.port")).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  const std::string port = testing::read_file(dir.file("scoring.port"));
  ASSERT_FALSE(port.empty()) << testing::read_file(dir.file("server.log"));
  // The example's job, on its scoring service's port, reading payments at 1,500 a second so
  // the run outlasts the service.
  std::string sql = testing::read_file(kExample + "/fraud_decisions.sql");
  for (auto [from, to] : {std::pair<std::string, std::string>{"'http://127.0.0.1:8500", "'http://127.0.0.1:" + port},
                          {"path = 'transactions.jsonl',", "path = 'transactions.jsonl', rate = '1500',"},
                          // A loaded machine's calls before the kill must not time out.
                          {"INTERVAL '250 milliseconds'", "INTERVAL '3 seconds'"}}) {
    const size_t at = sql.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    sql.replace(at, from.size(), to);
  }
  testing::write_file(dir.file("job.sql"), sql);
  const std::string log = dir.file("job.log");
  pid_t job = testing::spawn_sluice({"run", "--checkpoint-dir", "ck", "--http", "127.0.0.1:0", "job.sql"},
                                    dir.path(), log);
  ASSERT_GT(job, 0);
  const int http = testing::serving_port(log);
  ASSERT_GT(http, 0) << testing::read_file(log);
  std::optional<double> state;
  for (int i = 0; i < 1000 && state.value_or(0) != 1.0; ++i) {
    state = metric_value(testing::http_body(testing::http_request(http, "GET", "/metrics")),
                         "sluice_scoring_circuit_state");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(state.value_or(-1), 1.0) << "the breaker never showed open\n" << testing::read_file(log);
  ASSERT_EQ(testing::wait_exit(job), 0) << testing::read_file(log);

  // Every payment decided once; scored while the service lived, the fallback after; the
  // rule still blocked every burst.
  const auto decided = decisions(dir.path());
  ASSERT_EQ(decided.size(), line_count(dir.file("transactions.jsonl")));
  size_t scored = 0, fallback = 0;
  for (const auto& [tx, row] : decided) {
    if (field(row, 2) == "fraud-logit-v1") ++scored;
    if (field(row, 2) == "fallback") ++fallback;
  }
  EXPECT_GT(scored, 0u) << testing::read_file(dir.file("server.log"));
  EXPECT_GT(fallback, 0u);
  EXPECT_EQ(scored + fallback, decided.size());
  const nlohmann::json expected = expected_cases(dir.path());
  for (const auto& c : expected["cases"]) {
    if (c["kind"] != "rapid") continue;
    for (const auto& tx : c["blocked"]) {
      EXPECT_EQ(field(decided.at(tx.get<int64_t>()), 0), "block") << c.dump();
    }
  }
}

}  // namespace
}  // namespace sluice
