// The HTTP ingest source (`connector = 'http'`) end to end: `sluice run` listening, real
// clients posting (curl, and plain sockets from threads for the crash and burst tests).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::free_port;
using testing::read_file;
using testing::spawn_sluice;
using testing::TempDir;
using testing::write_file;

struct Reply {
  int status = 0;  // 0: no answer (connection refused or reset)
  std::string head;
  std::string body;
};

// One POST over a fresh connection (Connection: close).
Reply post(int port, const std::string& path, const std::string& content_type, const std::string& body,
           const std::string& extra_headers = "") {
  Reply r;
  const std::string reply = testing::http_exchange(
      port, "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers +
                "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                body);
  if (reply.rfind("HTTP/1.1 ", 0) != 0 || reply.size() < 12) return r;
  r.status = std::stoi(reply.substr(9, 3));
  const size_t at = reply.find("\r\n\r\n");
  r.head = reply.substr(0, at);
  if (at != std::string::npos) r.body = reply.substr(at + 4);
  return r;
}

std::string fmt_curl(int port, const std::string& path, const std::string& content_type, const std::string& body_file,
                     const std::string& out_file, const std::string& extra) {
  return "curl -s -o '" + out_file + "' -w '%{http_code}' -H 'Content-Type: " + content_type + "' " + extra +
         " --data-binary @'" + body_file + "' http://127.0.0.1:" + std::to_string(port) + path;
}

// curl, as a user would run it: the HTTP status, and the body in `body`.
int curl_post(int port, const std::string& path, const std::string& content_type, const std::string& body_file,
              std::string* body, const std::string& extra = "") {
  TempDir out;
  auto r = testing::run_command(fmt_curl(port, path, content_type, body_file, out.file("body"), extra));
  if (body) *body = read_file(out.file("body"));
  return std::atoi(r.output.c_str());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Waits until `done()` (up to `seconds`).
template <typename Done>
bool wait_until(Done done, int seconds = 30) {
  for (int i = 0; i < seconds * 100; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Waits until the listener on `port` answers (a GET of the events path: 405).
bool wait_listening(int port, const std::string& path) {
  return wait_until([&] { return testing::http_request(port, "GET", path).rfind("HTTP/1.1 405", 0) == 0; });
}

TEST(HttpIngestTest, PostedEventsReachTheSinkAndRefusedBodiesTheDlq) {
  TempDir dir;
  const int port = free_port();
  write_file(dir.file("job.sql"), testing::with_dir(R"(
    CREATE TABLE events (id BIGINT, name TEXT)
      WITH (connector = 'http', listen = '127.0.0.1:)" + std::to_string(port) + R"(', path = '/events',
            wal_dir = '{DIR}/wal', max_body_bytes = '300', dlq = '{DIR}/dlq.jsonl');
    CREATE TABLE out (id BIGINT, name TEXT) WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT id, name FROM events;)", dir.path()));
  pid_t pid = spawn_sluice({"--log-level", "info", "run", "job.sql"}, dir.path(), dir.file("log.txt"));
  ASSERT_TRUE(wait_listening(port, "/events")) << read_file(dir.file("log.txt"));
  EXPECT_NE(read_file(dir.file("log.txt")).find("accepting events on http://127.0.0.1:" + std::to_string(port) +
                                                "/events"),
            std::string::npos);

  write_file(dir.file("one.json"), R"({"id": 1, "name": "one"})");
  write_file(dir.file("array.json"), R"([{"id": 2, "name": "two"}, {"id": 3, "name": "three"}])");
  write_file(dir.file("lines.ndjson"), "{\"id\": 4, \"name\": \"four\"}\n{\"id\": 5, \"name\": \"five\"}\n");
  write_file(dir.file("bad.json"), R"({"id": 6, "name": )");
  write_file(dir.file("form.txt"), "id=7");
  write_file(dir.file("big.ndjson"), std::string(400, ' ') + "{\"id\": 8}");
  write_file(dir.file("badtype.json"), R"({"id": "nine", "name": "decodes badly"})");
  std::string body;
  EXPECT_EQ(curl_post(port, "/events", "application/json", dir.file("one.json"), &body), 202);
  EXPECT_EQ(body, "{\"accepted\":1}\n");
  EXPECT_EQ(curl_post(port, "/events", "application/json", dir.file("array.json"), &body), 202);
  EXPECT_EQ(body, "{\"accepted\":2}\n");
  EXPECT_EQ(curl_post(port, "/events", "application/x-ndjson", dir.file("lines.ndjson"), &body), 202);
  EXPECT_EQ(curl_post(port, "/events", "application/json", dir.file("bad.json"), &body), 400);
  EXPECT_NE(body.find("not valid JSON"), std::string::npos) << body;
  EXPECT_EQ(curl_post(port, "/events", "text/plain", dir.file("form.txt"), &body), 415);
  EXPECT_EQ(curl_post(port, "/events", "application/x-ndjson", dir.file("big.ndjson"), &body), 413);
  EXPECT_NE(body.find("more than max_body_bytes 300"), std::string::npos) << body;
  // Valid JSON whose field does not fit the column: accepted, then dead-lettered by the decoder.
  EXPECT_EQ(curl_post(port, "/events", "application/json", dir.file("badtype.json"), &body), 202);
  // The log is read in order: once the last event is out, everything before it was handled.
  write_file(dir.file("last.json"), R"({"id": 10, "name": "last"})");
  EXPECT_EQ(curl_post(port, "/events", "application/json", dir.file("last.json"), &body), 202);

  ASSERT_TRUE(wait_until([&] { return lines_of(read_file(dir.file("out.jsonl"))).size() == 6; }))
      << read_file(dir.file("out.jsonl"));
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0) << read_file(dir.file("log.txt"));
  EXPECT_EQ(read_file(dir.file("out.jsonl")),
            "{\"id\":1,\"name\":\"one\"}\n{\"id\":2,\"name\":\"two\"}\n{\"id\":3,\"name\":\"three\"}\n"
            "{\"id\":4,\"name\":\"four\"}\n{\"id\":5,\"name\":\"five\"}\n{\"id\":10,\"name\":\"last\"}\n");
  std::vector<nlohmann::json> dlq;
  for (const auto& line : lines_of(read_file(dir.file("dlq.jsonl")))) dlq.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(dlq.size(), 4u);
  EXPECT_EQ(dlq[0]["source"], "events");
  EXPECT_EQ(dlq[0]["error"].get<std::string>().rfind("HTTP 400: not valid JSON", 0), 0u) << dlq[0];
  EXPECT_EQ(dlq[0]["raw"], R"({"id": 6, "name": )");
  EXPECT_EQ(dlq[1]["error"], "HTTP 415: Content-Type 'text/plain' is not supported: send application/json or "
                             "application/x-ndjson");
  EXPECT_EQ(dlq[1]["raw"], "id=7");
  EXPECT_EQ(dlq[2]["error"], "HTTP 413: the body has 409 bytes, more than max_body_bytes 300");
  EXPECT_EQ(dlq[2]["raw"], read_file(dir.file("big.ndjson")));
  EXPECT_EQ(dlq[3]["raw"], R"({"id": "nine", "name": "decodes badly"})");
  EXPECT_LT(dlq[0]["offset"].get<int64_t>(), dlq[3]["offset"].get<int64_t>());
}

TEST(HttpIngestTest, ATokenFileMakesEveryRequestShowTheToken) {
  TempDir dir;
  const int port = free_port();
  write_file(dir.file("token"), "s3cret-token-of-the-ingest\n");
  ::chmod(dir.file("token").c_str(), 0600);
  write_file(dir.file("job.sql"), testing::with_dir(R"(
    CREATE TABLE events (id BIGINT) WITH (connector = 'http', listen = ':)" + std::to_string(port) + R"(',
      path = '/in', wal_dir = '{DIR}/wal', token_file = '{DIR}/token');
    CREATE TABLE out (id BIGINT) WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT id FROM events;)", dir.path()));
  pid_t pid = spawn_sluice({"run", "job.sql"}, dir.path(), dir.file("log.txt"));
  ASSERT_TRUE(wait_until([&] {
    return testing::http_request(port, "GET", "/in").rfind("HTTP/1.1 401", 0) == 0;
  })) << read_file(dir.file("log.txt"));
  write_file(dir.file("e.json"), R"({"id": 1})");
  std::string body;
  EXPECT_EQ(curl_post(port, "/in", "application/json", dir.file("e.json"), &body), 401);
  EXPECT_EQ(curl_post(port, "/in", "application/json", dir.file("e.json"), &body,
                      "-H 'Authorization: Bearer wrong-token-of-the-ingest'"),
            401);
  EXPECT_EQ(curl_post(port, "/in", "application/json", dir.file("e.json"), &body,
                      "-H 'Authorization: Bearer s3cret-token-of-the-ingest'"),
            202);
  ASSERT_TRUE(wait_until([&] { return read_file(dir.file("out.jsonl")) == "{\"id\":1}\n"; }));
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0);
  EXPECT_FALSE(std::ifstream(dir.file("events.dlq.jsonl")).good()) << "a 401 is not a dead letter";

  // Not on loopback without a token: refused before anything runs.
  write_file(dir.file("open.sql"), testing::with_dir(R"(
    CREATE TABLE events (id BIGINT) WITH (connector = 'http', listen = '0.0.0.0:8080', wal_dir = '{DIR}/wal');
    CREATE TABLE out (id BIGINT) WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT id FROM events;)", dir.path()));
  auto r = testing::run_sluice("run open.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("listening on '0.0.0.0' (not a loopback address) needs a bearer token"), std::string::npos)
      << r.output;
  // No durable place for the log: refused too.
  write_file(dir.file("nowal.sql"), testing::with_dir(R"(
    CREATE TABLE events (id BIGINT) WITH (connector = 'http', listen = '127.0.0.1:8080');
    CREATE TABLE out (id BIGINT) WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT id FROM events;)", dir.path()));
  r = testing::run_sluice("validate nowal.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("needs a durable place for it: run with --checkpoint-dir"), std::string::npos) << r.output;
}

// Peak resident memory of process `pid` so far, in KiB (VmHWM), or -1.
long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// Ids posted by client threads, by what the server answered.
struct Ledger {
  std::mutex mu;
  std::set<int64_t> acked;    // 202: must be in the output exactly once
  std::set<int64_t> unknown;  // no answer (the process died): at most once
  std::set<int64_t> refused;  // 429 / 503: never in the output
  int busy_answers = 0;       // 429 / 503
  int busy_without_retry_after = 0;
};

// NDJSON of `n` events with ids from `first` on, each padded to about `pad` bytes.
std::string ndjson(int64_t first, int n, size_t pad = 0) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += "{\"id\":" + std::to_string(first + i);
    if (pad > 0) out += ",\"pad\":\"" + std::string(pad, 'x') + "\"";
    out += "}\n";
  }
  return out;
}

// Posts batches of `batch` events from `threads` threads until `stop`, recording the answers.
void post_until(std::atomic<bool>& stop, Ledger& ledger, int port, const std::string& path, int threads, int batch,
                size_t pad, int64_t id_base, std::atomic<int>* posts = nullptr) {
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      for (int64_t seq = 0; !stop.load(); ++seq) {
        const int64_t first = id_base + t * 10000000LL + seq * batch;
        Reply r = post(port, path, "application/x-ndjson", ndjson(first, batch, pad));
        if (posts) posts->fetch_add(1);
        std::lock_guard<std::mutex> lock(ledger.mu);
        std::set<int64_t>* into = r.status == 202 ? &ledger.acked
                                  : r.status == 0 ? &ledger.unknown
                                                  : &ledger.refused;
        for (int i = 0; i < batch; ++i) into->insert(first + i);
        if (r.status == 429 || r.status == 503) {
          ++ledger.busy_answers;
          if (r.head.find("Retry-After: 1") == std::string::npos) ++ledger.busy_without_retry_after;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        } else if (r.status != 202 && r.status != 0) {
          ADD_FAILURE() << "unexpected answer " << r.status << ": " << r.body;
          return;
        } else if (r.status == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  for (auto& c : clients) c.join();
}

TEST(HttpIngestTest, ABurstGetsTooManyRequestsAndMemoryStaysBounded) {
  TempDir dir;
  const int port = free_port();
  write_file(dir.file("job.sql"), testing::with_dir(R"(
    CREATE TABLE events (id BIGINT) WITH (connector = 'http', listen = '127.0.0.1:)" + std::to_string(port) + R"(',
      path = '/e', wal_dir = '{DIR}/wal', max_pending_bytes = '65536', max_body_bytes = '1048576');
    CREATE TABLE out (id BIGINT) WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT id FROM events;)", dir.path()));
  pid_t pid = spawn_sluice({"run", "job.sql"}, dir.path(), dir.file("log.txt"));
  ASSERT_TRUE(wait_listening(port, "/e")) << read_file(dir.file("log.txt"));
  // 24 clients posting ~250 KB bodies as fast as they can: far more than the job reads.
  Ledger ledger;
  std::atomic<bool> stop{false};
  std::atomic<int> posts{0};
  std::thread burst([&] { post_until(stop, ledger, port, "/e", 24, 2000, 100, 1, &posts); });
  long peak = 0;
  for (int i = 0; i < 400 && (posts.load() < 600 || ledger.busy_answers < 20); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    peak = std::max(peak, peak_rss_kib(pid));
  }
  stop.store(true);
  burst.join();
  peak = std::max(peak, peak_rss_kib(pid));
  EXPECT_GT(ledger.busy_answers, 0) << "a burst over max_pending_bytes is answered 429";
  EXPECT_EQ(ledger.busy_without_retry_after, 0);
  EXPECT_FALSE(ledger.acked.empty());
  EXPECT_TRUE(ledger.unknown.empty());
  if (!testing::sanitized()) {
    // Bounded by the workers' bodies (8 x 1 MiB) and the job's batches, not by the burst.
    EXPECT_LT(peak, 400 * 1024) << "peak RSS of sluice in KiB";
  }
  // Every accepted event is processed, exactly once; no refused one is.
  ASSERT_TRUE(wait_until([&] { return lines_of(read_file(dir.file("out.jsonl"))).size() >= ledger.acked.size(); }, 60));
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0) << read_file(dir.file("log.txt"));
  std::multiset<int64_t> out;
  for (const auto& line : lines_of(read_file(dir.file("out.jsonl")))) out.insert(nlohmann::json::parse(line)["id"].get<int64_t>());
  EXPECT_EQ(out.size(), ledger.acked.size());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), ledger.acked.begin(), ledger.acked.end()))
      << "the output is exactly the acknowledged events";
}

TEST(HttpIngestTest, NothingAcknowledgedIsLostOrRepeatedAfterKill9) {
  TempDir dir;
  const int port = free_port();
  write_file(dir.file("job.sql"), testing::with_dir(R"(
    CREATE TABLE events (id BIGINT) WITH (connector = 'http', listen = '127.0.0.1:)" + std::to_string(port) + R"(',
      path = '/e', segment_bytes = '20000');
    CREATE TABLE out (id BIGINT) WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'out');
    INSERT INTO out SELECT id FROM events;)", dir.path()));
  const std::vector<std::string> args = {"run", "job.sql", "--checkpoint-dir", "chk", "--checkpoint-interval", "300ms"};
  Ledger ledger;
  testing::Rng rng{static_cast<uint64_t>(::getpid())};
  for (int round = 0; round < 3; ++round) {
    pid_t pid = spawn_sluice(args, dir.path(), dir.file("log.txt"));
    ASSERT_TRUE(testing::wait_for_pid_file(dir.file("chk/sluice.pid"), pid));
    ASSERT_TRUE(wait_listening(port, "/e")) << read_file(dir.file("log.txt"));
    std::atomic<bool> stop{false};
    std::thread clients([&] { post_until(stop, ledger, port, "/e", 4, 25, 0, 1 + round * 100000000LL); });
    // A random moment: several checkpoints have completed, events were acknowledged after the
    // last one.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng.uniform(800, 1600)));
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGKILL);
    EXPECT_EQ(testing::wait_exit(pid), -SIGKILL);
    stop.store(true);
    clients.join();
  }
  ASSERT_FALSE(ledger.acked.empty());
  // The last run: resumes, reads what was acknowledged but not yet committed, then stops.
  pid_t pid = spawn_sluice(args, dir.path(), dir.file("log.txt"));
  ASSERT_TRUE(testing::wait_for_pid_file(dir.file("chk/sluice.pid"), pid));
  ASSERT_TRUE(wait_listening(port, "/e"));
  const std::string count_sql = "SELECT COUNT(*) FROM out";
  ASSERT_TRUE(wait_until([&] {
    auto rows = testing::sqlite_query_rows(dir.file("out.db"), count_sql);
    return !rows.empty() && rows[0].find_first_not_of("0123456789") == std::string::npos &&
           std::stoull(rows[0]) >= ledger.acked.size();
  }, 60)) << testing::sqlite_query(dir.file("out.db"), count_sql) << " of " << ledger.acked.size();
  EXPECT_EQ(testing::interrupt_and_wait(pid), 0) << read_file(dir.file("log.txt"));
  std::multiset<int64_t> out;
  for (const auto& row : testing::sqlite_query_rows(dir.file("out.db"), "SELECT id FROM out")) {
    out.insert(std::stoll(row));
  }
  size_t missing = 0, repeated = 0, never_acked = 0;
  for (int64_t id : ledger.acked) missing += out.count(id) == 0;
  for (int64_t id : out) {
    repeated += out.count(id) > 1;
    never_acked += !ledger.acked.count(id) && !ledger.unknown.count(id);
  }
  EXPECT_EQ(missing, 0u) << "acknowledged events lost, of " << ledger.acked.size();
  EXPECT_EQ(repeated, 0u) << "events written twice";
  EXPECT_EQ(never_acked, 0u) << "events in the output that were refused or never sent";
  EXPECT_NE(read_file(dir.file("log.txt")).find("resum"), std::string::npos) << read_file(dir.file("log.txt"));
}

}  // namespace
}  // namespace sluice
