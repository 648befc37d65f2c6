// The REST API's job views against a real running job (`sluice run --http`): the physical
// plan with live per-operator counts, watermarks per split with the reason the oldest open
// window has not fired, the checkpoint history and the DLQ / late-data browser; every count
// is checked against what the job really wrote once it stopped.
#include <chrono>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

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

// Line 3 is late for the 1-minute windows, lines 5 and 6 too; line 8 is not JSON (DLQ);
// line 7 opens the window [00:30, 00:31), which stays open while the file is followed.
const char* kInput =
    "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:01:30Z\"}\n"
    "{\"k\": 2, \"ts\": \"2024-01-01T00:00:20Z\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:12:00Z\"}\n"
    "{\"k\": 3, \"ts\": \"2024-01-01T00:05:00Z\"}\n"
    "{\"k\": 9, \"ts\": \"2024-01-01T00:11:00Z\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:30:00Z\"}\n"
    "not json\n";

const char* kJob = R"(CREATE TABLE src (k BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', follow = 'true');
CREATE TABLE a (window_start TIMESTAMP, n BIGINT) WITH (connector = 'file', path = '{DIR}/a.jsonl');
INSERT INTO a SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1 minute') GROUP BY window_start;
)";

// The same with the dead-letter queue and the late output as sink tables of the job.
const char* kSideTablesJob = R"(CREATE TABLE src (k BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', follow = 'true', dlq = 'bad_rows',
        late_output = 'late_rows');
CREATE TABLE bad_rows () WITH (connector = 'file', path = '{DIR}/bad.jsonl');
CREATE TABLE late_rows () WITH (connector = 'file', path = '{DIR}/late.jsonl');
CREATE TABLE a (window_start TIMESTAMP, n BIGINT) WITH (connector = 'file', path = '{DIR}/a.jsonl');
INSERT INTO a SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1 minute') GROUP BY window_start;
)";

size_t count_lines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

class HttpApiTest : public ::testing::Test {
 protected:
  virtual const char* job() const { return kJob; }
  void SetUp() override {
    write_file(dir_.file("in.jsonl"), kInput);
    write_file(dir_.file("job.sql"), with_dir(job(), dir_.path()));
    pid_ = spawn_sluice({"run", "job.sql", "--http", "127.0.0.1:0", "--checkpoint-dir", dir_.file("ckpt"),
                         "--checkpoint-interval", "100ms"},
                        dir_.path(), dir_.file("log.txt"));
    port_ = testing::serving_port(dir_.file("log.txt"));
    ASSERT_GT(port_, 0) << read_file(dir_.file("log.txt"));
  }
  void TearDown() override {
    if (pid_ > 0) testing::interrupt_and_wait(pid_);
  }
  // GET path -> (status, JSON body or null).
  std::pair<int, json> get(const std::string& path) {
    std::string reply = http_request(port_, "GET", path);
    int status = reply.size() > 12 ? std::stoi(reply.substr(9, 3)) : 0;
    json body = json::parse(http_body(reply), nullptr, false);
    return {status, body};
  }
  // Waits until the job has read everything, the late output wrote its entries and two
  // checkpoints completed (the counts are then final while the job follows its input).
  void wait_quiescent() {
    for (int i = 0; i < 1000; ++i) {
      auto [st, j] = get("/api/v1/jobs/job");
      if (st == 200 && j["records_in"] == 8 && j["dead_lettered"] == 1 && j["late"] == 3 &&
          j["checkpoints_completed"].get<int>() >= 2) {
        auto [dst, d] = get("/api/v1/jobs/job/dlq");
        if (dst == 200 && d["total"] == 4) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "the job did not read its input: " << read_file(dir_.file("log.txt"));
  }
  void stop() {
    std::string r = http_request(port_, "POST", "/api/v1/jobs/job/stop");
    EXPECT_EQ(r.rfind("HTTP/1.1 202", 0), 0u) << r;
    EXPECT_EQ(testing::wait_exit(pid_), 0) << read_file(dir_.file("log.txt"));
    pid_ = -1;
  }
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

const json* find_op(const json& plan, const std::string& kind) {
  for (const auto& st : plan["stages"]) {
    for (const auto& op : st["operators"]) {
      if (op["kind"] == kind) return &op;
    }
  }
  return nullptr;
}

TEST_F(HttpApiTest, PlanHasTheOperatorsWithTheirLiveCounts) {
  wait_quiescent();
  auto [status, plan] = get("/api/v1/jobs/job/plan");
  ASSERT_EQ(status, 200) << plan.dump();
  EXPECT_EQ(plan["name"], "job");
  ASSERT_TRUE(plan["stages"].is_array() && !plan["stages"].empty()) << plan.dump();
  EXPECT_EQ(plan["stages"][0]["source"], "src") << plan.dump();
  const json* window = find_op(plan, "window_aggregate");
  const json* sink = find_op(plan, "sink");
  ASSERT_TRUE(window && sink) << plan.dump(1);
  EXPECT_FALSE((*window)["describe"].get<std::string>().empty());
  EXPECT_FALSE((*window)["id"].get<std::string>().empty());
  // Windows [00:00], [00:01] and [00:12] fired; [00:30] is open. Rows 3, 5 and 6 are late.
  const json* late_filter = find_op(plan, "late_filter");
  ASSERT_TRUE(late_filter) << plan.dump(1);
  EXPECT_EQ((*late_filter)["late"], 3) << late_filter->dump();
  EXPECT_EQ((*late_filter)["records_in"], 7) << late_filter->dump();
  EXPECT_EQ((*window)["records_in"], 4) << window->dump();
  EXPECT_EQ((*window)["records_out"], 3) << window->dump();
  EXPECT_EQ((*sink)["records_in"], 3) << sink->dump();
  // Per instance and summed.
  uint64_t in = 0;
  for (const auto& i : (*sink)["instances"]) in += i["records_in"].get<uint64_t>();
  EXPECT_EQ(in, 3u);
  ASSERT_EQ(plan["sources"].size(), 1u) << plan.dump();
  EXPECT_EQ(plan["sources"][0]["records"], 8);
  EXPECT_EQ(plan["sources"][0]["dead_lettered"], 1);
  EXPECT_EQ(plan["sources"][0]["late"], 3);
  for (const auto& e : plan["edges"]) {
    EXPECT_TRUE(e["kind"] == "forward" || e["kind"] == "hash" || e["kind"] == "gather") << e.dump();
  }
  stop();
  // Stopped (not drained): the open window does not fire; the sink committed its 3 rows
  // (part files: the job checkpoints).
  size_t rows = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_.path())) {
    const std::string name = f.path().filename().string();
    if (name.rfind("a.", 0) == 0 && name.size() > 6 && name.substr(name.size() - 6) == ".jsonl") {
      rows += count_lines(read_file(f.path().string()));
    }
  }
  EXPECT_EQ(rows, (*sink)["records_out"].get<size_t>());
  EXPECT_EQ(rows, 3u);
  EXPECT_EQ(count_lines(read_file(dir_.file("src.dlq.jsonl"))), 1u);
  EXPECT_EQ(count_lines(read_file(dir_.file("src.late.jsonl"))), 3u);
}

TEST_F(HttpApiTest, WatermarksNameTheSplitHoldingTheOpenWindow) {
  wait_quiescent();
  auto [status, wm] = get("/api/v1/jobs/job/watermarks");
  ASSERT_EQ(status, 200) << wm.dump();
  ASSERT_EQ(wm["sources"].size(), 1u) << wm.dump(1);
  const json& src = wm["sources"][0];
  EXPECT_EQ(src["table"], "src");
  ASSERT_EQ(src["splits"].size(), 1u) << src.dump();
  EXPECT_EQ(src["splits"][0]["watermark"], "2024-01-01 00:30:00") << src.dump();
  EXPECT_EQ(src["splits"][0]["state"], "active") << src.dump();
  EXPECT_EQ(src["readers"][0]["watermark"], "2024-01-01 00:30:00") << src.dump();
  ASSERT_FALSE(wm["windows"].empty()) << wm.dump(1);
  const json& w = wm["windows"][0];
  EXPECT_EQ(w["open_window_end"], "2024-01-01 00:31:00") << w.dump();
  EXPECT_EQ(w["watermark"], "2024-01-01 00:30:00") << w.dump();
  EXPECT_EQ(w["held_back_by"]["table"], "src") << w.dump();
  EXPECT_EQ(w["held_back_by"]["watermark"], "2024-01-01 00:30:00") << w.dump();
  const std::string reason = w["reason"];
  EXPECT_NE(reason.find("held back by split"), std::string::npos) << reason;
  EXPECT_NE(reason.find("not idle"), std::string::npos) << reason;
  bool window_op = false;
  for (const auto& op : wm["operators"]) {
    if (op["kind"] == "window_aggregate") {
      window_op = true;
      EXPECT_EQ(op["watermark"], "2024-01-01 00:30:00") << op.dump();
    }
  }
  EXPECT_TRUE(window_op) << wm.dump(1);
  stop();
}

TEST_F(HttpApiTest, CheckpointHistoryListsCheckpointsAndSavepoints) {
  wait_quiescent();
  std::string r = http_request(port_, "POST", "/api/v1/jobs/job/savepoint");
  ASSERT_EQ(r.rfind("HTTP/1.1 202", 0), 0u) << r;
  json cps;
  for (int i = 0; i < 500; ++i) {
    auto [status, j] = get("/api/v1/jobs/job/checkpoints");
    ASSERT_EQ(status, 200) << j.dump();
    cps = j;
    bool savepoint = false;
    for (const auto& c : j["checkpoints"]) savepoint |= c["savepoint"].get<bool>();
    if (savepoint) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(cps["enabled"].get<bool>());
  const auto& list = cps["checkpoints"];
  ASSERT_GE(list.size(), 3u) << cps.dump(1);
  int savepoints = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& c = list[i];
    EXPECT_EQ(c["state"], "completed") << c.dump();
    EXPECT_GT(c["size_bytes"].get<uint64_t>(), 0u) << c.dump();
    EXPECT_GE(c["duration_seconds"].get<double>(), 0.0) << c.dump();
    EXPECT_FALSE(c["started"].get<std::string>().empty());
    if (i > 0) {
      EXPECT_LT(c["id"].get<uint64_t>(), list[i - 1]["id"].get<uint64_t>()) << "newest first";
    }
    savepoints += c["savepoint"].get<bool>();
  }
  EXPECT_EQ(savepoints, 1) << cps.dump(1);
  EXPECT_EQ(cps["completed"].get<uint64_t>(), cps["recorded"].get<uint64_t>());
  EXPECT_EQ(cps["failed"], 0);
  const uint64_t newest = list[0]["id"];
  stop();
  EXPECT_GE(newest, 3u);
}

TEST_F(HttpApiTest, DlqPagesTheDeadLettersAndLateRecords) {
  wait_quiescent();
  auto [s1, all] = get("/api/v1/jobs/job/dlq");
  ASSERT_EQ(s1, 200) << all.dump();
  EXPECT_EQ(all["total"], 4) << all.dump(1);
  ASSERT_EQ(all["records"].size(), 4u) << all.dump(1);
  // Paging: newest first, disjoint pages covering every entry.
  std::set<uint64_t> seqs;
  for (int offset : {0, 2}) {
    auto [st, page] = get("/api/v1/jobs/job/dlq?offset=" + std::to_string(offset) + "&limit=2");
    ASSERT_EQ(st, 200) << page.dump();
    ASSERT_EQ(page["records"].size(), 2u) << page.dump();
    EXPECT_GT(page["records"][0]["seq"].get<uint64_t>(), page["records"][1]["seq"].get<uint64_t>());
    for (const auto& e : page["records"]) seqs.insert(e["seq"].get<uint64_t>());
  }
  EXPECT_EQ(seqs, (std::set<uint64_t>{1, 2, 3, 4}));
  auto [s2, dlq] = get("/api/v1/jobs/job/dlq?kind=dlq");
  ASSERT_EQ(s2, 200);
  ASSERT_EQ(dlq["records"].size(), 1u) << dlq.dump(1);
  EXPECT_EQ(dlq["records"][0]["raw"], "not json");
  EXPECT_EQ(dlq["records"][0]["line"], 8);
  EXPECT_EQ(dlq["records"][0]["kind"], "dlq");
  EXPECT_FALSE(dlq["records"][0]["error"].get<std::string>().empty());
  auto [s3, late] = get("/api/v1/jobs/job/dlq?kind=late");
  ASSERT_EQ(s3, 200);
  ASSERT_EQ(late["records"].size(), 3u) << late.dump(1);
  std::set<int64_t> lines;
  for (const auto& e : late["records"]) {
    lines.insert(e["line"].get<int64_t>());
    EXPECT_EQ(e["queries"], json::array({"a"})) << e.dump();
  }
  EXPECT_EQ(lines, (std::set<int64_t>{3, 5, 6}));
  // Bad parameters are 400; a huge limit is capped.
  EXPECT_EQ(get("/api/v1/jobs/job/dlq?limit=abc").first, 400);
  EXPECT_EQ(get("/api/v1/jobs/job/dlq?limit=0").first, 400);
  EXPECT_EQ(get("/api/v1/jobs/job/dlq?offset=-1").first, 400);
  EXPECT_EQ(get("/api/v1/jobs/job/dlq?kind=other").first, 400);
  auto [s4, capped] = get("/api/v1/jobs/job/dlq?limit=100000");
  EXPECT_EQ(s4, 200);
  EXPECT_EQ(capped["limit"], 500);
  // Unknown jobs are 404 on every view.
  for (const char* view : {"plan", "watermarks", "checkpoints", "dlq"}) {
    auto [st, body] = get(std::string("/api/v1/jobs/nope/") + view);
    EXPECT_EQ(st, 404) << view;
    EXPECT_NE(body["error"].get<std::string>().find("nope"), std::string::npos) << body.dump();
  }
  stop();
  EXPECT_EQ(count_lines(read_file(dir_.file("src.dlq.jsonl"))), 1u);
  EXPECT_EQ(count_lines(read_file(dir_.file("src.late.jsonl"))), 3u);
}

class HttpApiSideTablesTest : public HttpApiTest {
 protected:
  const char* job() const override { return kSideTablesJob; }
};

// Side outputs that are sink tables: the plan shows their side edges, the browser lists
// their entries as for the file shorthands.
TEST_F(HttpApiSideTablesTest, SideOutputTablesShowInThePlanAndTheBrowser) {
  wait_quiescent();
  auto [status, plan] = get("/api/v1/jobs/job/plan");
  ASSERT_EQ(status, 200) << plan.dump();
  std::set<std::string> side_edges;
  for (const auto& e : plan["edges"]) {
    const std::string kind = e["kind"];
    if (kind.rfind("side:", 0) == 0) side_edges.insert(kind);
  }
  EXPECT_EQ(side_edges, (std::set<std::string>{"side:dlq", "side:late"})) << plan.dump(1);
  const auto tables = plan["sink_tables"].get<std::vector<std::string>>();
  EXPECT_EQ(std::set<std::string>(tables.begin(), tables.end()), (std::set<std::string>{"a", "bad_rows", "late_rows"}));
  auto [s1, dlq] = get("/api/v1/jobs/job/dlq?kind=dlq");
  ASSERT_EQ(s1, 200);
  ASSERT_EQ(dlq["records"].size(), 1u) << dlq.dump(1);
  EXPECT_EQ(dlq["records"][0]["raw"], "not json");
  EXPECT_EQ(dlq["records"][0]["line"], 8);
  auto [s2, late] = get("/api/v1/jobs/job/dlq?kind=late");
  ASSERT_EQ(s2, 200);
  ASSERT_EQ(late["records"].size(), 3u) << late.dump(1);
  for (const auto& e : late["records"]) EXPECT_EQ(e["queries"], json::array({"a"})) << e.dump();
  stop();
}

}  // namespace
}  // namespace sluice
