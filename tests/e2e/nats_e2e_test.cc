// NATS JetStream end to end (issue 11 point 5): a windowed job reads a stream and writes its
// results to another stream. On one server, at parallelism 1 and 2, the output equals a
// reference computed here; a rerun whose checkpoint directory was deleted is refused. On a
// 3-node cluster (streams with 3 replicas) the Sluice process is killed with SIGKILL again
// and again and the leader node of the input stream is killed mid-run: the output stream
// still holds every expected result exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "connectors/nats/nats_test_server.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::NatsTestCluster;
using testing::TempDir;

constexpr int64_t kBaseMs = 1700000000000;

std::string iso(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// `n` events {k, v, ts} published to `subject`, event times up to 2 s out of order; the
// expected window results as the JSON lines the sink writes, sorted.
std::vector<std::string> publish_events(const NatsTestCluster& nats, const std::string& subject, int n) {
  testing::Rng rng{5};
  std::vector<std::string> payloads;
  std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>> windows;
  for (int i = 0; i < n; ++i) {
    const int64_t k = rng.uniform(0, 49), v = rng.uniform(-1000, 1000);
    const int64_t ts = kBaseMs + i * 2 - rng.uniform(0, 2000);
    payloads.push_back(fmt::format(R"({{"k":{},"v":{},"ts":{}}})", k, v, ts));
    auto& w = windows[{k, ts - ((ts % 10000) + 10000) % 10000}];
    w.first += 1;
    w.second += v;
  }
  nats.publish(subject, payloads);
  std::vector<std::string> expected;
  for (const auto& [key, value] : windows) {
    expected.push_back(fmt::format(R"({{"k":{},"window_start":"{}","n":{},"total":{}}})", key.first, iso(key.second),
                                   value.first, value.second));
  }
  std::sort(expected.begin(), expected.end());
  return expected;
}

std::string job(const NatsTestCluster& nats, const std::string& in_stream, const std::string& in_subject,
                const std::string& out_subject) {
  return fmt::format(R"(
CREATE TABLE clicks (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'nats', url = '{0}', stream = '{1}', subject = '{2}', bounded_mode = 'latest',
        event_time = 'ts', watermark_delay = '3s');
CREATE TABLE counts (k BIGINT, window_start TIMESTAMP, n BIGINT, total BIGINT)
  WITH (connector = 'nats', url = '{0}', subject = '{3}');
INSERT INTO counts
SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total
FROM TUMBLE(clicks, ts, INTERVAL '10 seconds') GROUP BY k, window_start;
)",
                     nats.url(), in_stream, in_subject, out_subject);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(NatsJobTest, AWindowedJobFromAStreamToAStreamEqualsTheReferenceAtParallelismOneAndTwo) {
  auto& nats = NatsTestCluster::shared();
  nats.create_stream("E2E_IN", "e2e.in");
  const auto expected = publish_events(nats, "e2e.in", 20000);
  for (const char* p : {"1", "2"}) {
    TempDir dir;
    const std::string out = fmt::format("E2E_OUT{}", p);
    nats.create_stream(out, "e2e.out" + std::string(p));
    testing::write_file(dir.file("job.sql"), job(nats, "E2E_IN", "e2e.in", "e2e.out" + std::string(p)));
    // A consumer of its own per run (the consumer's position belongs to a run's table name).
    auto sql = testing::read_file(dir.file("job.sql"));
    sql.replace(sql.find("event_time"), 0, fmt::format("consumer = 'p{}', ", p));
    testing::write_file(dir.file("job.sql"), sql);
    auto r = testing::run_sluice(fmt::format("run -q job.sql -p {} --checkpoint-dir ck --checkpoint-interval 50ms", p),
                                 dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(sorted(nats.messages(out)), expected) << "parallelism " << p;
  }
}

// Issue 9 point 6: the checkpoint directory deleted after a run committed its results to a
// stream. The rerun, under a new job id, would publish every result again: the sink's record
// of the directory names the earlier job, and the start is refused.
TEST(NatsJobTest, ARerunAfterItsCheckpointDirectoryWasDeletedIsRefused) {
  auto& nats = NatsTestCluster::shared();
  nats.create_stream("WIPED_IN", "wiped.in");
  const auto expected = publish_events(nats, "wiped.in", 2000);
  nats.create_stream("WIPED_OUT", "wiped.out");
  TempDir dir;
  testing::write_file(dir.file("job.sql"), job(nats, "WIPED_IN", "wiped.in", "wiped.out"));
  auto first = testing::run_sluice("run -q job.sql --checkpoint-dir ck --checkpoint-interval 50ms", dir.path());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(sorted(nats.messages("WIPED_OUT")), expected);
  std::filesystem::remove_all(dir.file("ck"));
  auto refused = testing::run_sluice("run -q job.sql --checkpoint-dir ck --checkpoint-interval 50ms", dir.path());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("deleted or replaced"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--start-over"), std::string::npos) << refused.output;
  EXPECT_EQ(sorted(nats.messages("WIPED_OUT")), expected);
}

TEST(NatsJobTest, OnAThreeNodeClusterKillsOfSluiceAndOfTheStreamLeaderLoseAndRepeatNothing) {
  NatsTestCluster nats(3);
  nats.create_stream("IN", "in.clicks", 3);
  nats.create_stream("OUT", "out.counts", 3);
  const auto expected = publish_events(nats, "in.clicks", 60000);
  TempDir dir;
  testing::write_file(dir.file("job.sql"), job(nats, "IN", "in.clicks", "out.counts"));
  testing::Rng rng{17};
  int kills = 0, leader_kills = 0, killed_node = -1;
  for (int run = 0; run < 80; ++run) {
    const std::string log = dir.file(fmt::format("run{}.log", run));
    const pid_t pid = testing::spawn_sluice(
        {"run", "-q", "job.sql", "--checkpoint-dir", "ck", "--checkpoint-interval", "50ms"}, dir.path(), log);
    ASSERT_GT(pid, 0);
    if (kills < 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(300, 900)));
      if (kills == 3 && killed_node < 0) {
        // The input stream's leader dies under the running job; the other two elect a new one.
        killed_node = nats.stream_leader("IN");
        ASSERT_GE(killed_node, 0);
        nats.kill_node(killed_node);
        ++leader_kills;
        std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(300, 900)));
      }
      if (::kill(pid, SIGKILL) == 0 && testing::wait_exit(pid) != 0) {
        ++kills;
        if (kills == 6 && killed_node >= 0) {
          nats.start_node(killed_node);  // back, catching up with the stream
          killed_node = -2;
        }
        continue;
      }
    }
    const int code = testing::wait_exit(pid);
    ASSERT_EQ(code, 0) << testing::read_file(log);
    break;
  }
  EXPECT_GE(kills, 5);
  EXPECT_EQ(leader_kills, 1);
  const auto got = sorted(nats.messages("OUT"));
  EXPECT_EQ(got.size(), expected.size()) << "every window result exactly once";
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace sluice
