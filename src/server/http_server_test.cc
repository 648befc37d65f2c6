// The HTTP server against real jobs run by the engine, through a real HTTP client
// (cpp-httplib's) and raw sockets for malformed requests.
#include "server/http_server.h"

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/scoped_temp_dir.h"
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_storage.h"

namespace sluice::server {
namespace {

using json = nlohmann::json;

class TempDir : public ScopedTempDir {
 public:
  TempDir() : ScopedTempDir("sluice_http") {}
};

void write_lines(const std::string& path, int n) {
  std::ofstream out(path);
  for (int i = 1; i <= n; ++i) out << "{\"n\": " << i << "}\n";
}

engine::PreparedJob follow_job(const TempDir& dir, const std::string& name, bool checkpoints) {
  write_lines(dir.file(name + ".in"), 20);
  std::string text = "CREATE TABLE src (n BIGINT) WITH (connector = 'file', path = '" + dir.file(name + ".in") +
                     "', follow = 'true');\nCREATE TABLE out () WITH (connector = 'file', path = '" +
                     dir.file(name + ".out") + "');\nINSERT INTO out SELECT n FROM src;\n";
  engine::JobOverrides o;
  if (checkpoints) o.checkpoint_dir = dir.file(name + ".ck");
  auto p = engine::prepare_sql(text, name + ".sql", o);
  EXPECT_TRUE(p.is_ok()) << p.status().message();
  return std::move(p.value());
}

// Waits until `pred` holds (5 s at most).
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions o = {}) {
    server_ = std::make_unique<HttpServer>(engine_, std::move(o));
    ASSERT_TRUE(server_->start().is_ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    engine_.stop_all();
    (void)engine_.wait_all();
    if (server_) server_->stop();
  }
  // Sends raw bytes and returns the status line of the reply.
  std::string raw(const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "connect failed";
    (void)!::write(fd, bytes.data(), bytes.size());
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    ::close(fd);
    std::string reply = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    return reply.substr(0, reply.find("\r\n"));
  }

  TempDir dir_;
  engine::Engine engine_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, ListsJobsAndShowsOne) {
  ASSERT_TRUE(engine_.submit(follow_job(dir_, "clicks", false)).is_ok());
  start();
  ASSERT_TRUE(eventually([&] { return engine_.find("clicks")->status().records_in == 20; }));
  auto res = client_->Get("/api/v1/jobs");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  json jobs = json::parse(res->body)["jobs"];
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["name"], "clicks");
  EXPECT_EQ(jobs[0]["state"], "running");
  EXPECT_EQ(jobs[0]["records_in"], 20);

  res = client_->Get("/api/v1/jobs/clicks");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  json job = json::parse(res->body);
  EXPECT_EQ(job["parallelism"], 1);
  EXPECT_NE(job["plan"].get<std::string>().find("sink"), std::string::npos) << job.dump();

  res = client_->Get("/api/v1/jobs/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_NE(json::parse(res->body)["error"].get<std::string>().find("nope"), std::string::npos);
  res = client_->Get("/no/such/route");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "ok\n");
}

TEST_F(HttpServerTest, StopsAJob) {
  ASSERT_TRUE(engine_.submit(follow_job(dir_, "f", false)).is_ok());
  start();
  auto res = client_->Post("/api/v1/jobs/f/stop");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  ASSERT_TRUE(engine_.find("f")->wait().is_ok());
  EXPECT_EQ(engine_.find("f")->status().state, engine::JobState::kStopped);
}

TEST_F(HttpServerTest, SavepointsNeedCheckpointsAndStopWithSavepointWritesOne) {
  ASSERT_TRUE(engine_.submit(follow_job(dir_, "plain", false)).is_ok());
  ASSERT_TRUE(engine_.submit(follow_job(dir_, "ck", true)).is_ok());
  start();
  auto res = client_->Post("/api/v1/jobs/plain/savepoint");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 409);
  res = client_->Post("/api/v1/jobs/ck/stop?savepoint=maybe");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  res = client_->Post("/api/v1/jobs/ck/stop?savepoint=true");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  ASSERT_TRUE(engine_.find("ck")->wait().is_ok());
  CheckpointStorage storage(dir_.file("ck.ck"), 1);
  bool savepoint = false;
  for (uint64_t id : storage.list()) {
    auto info = storage.verify(dir_.file("ck.ck") + "/" + fmt::format("chk-{:020d}", id));
    savepoint |= info.is_ok() && info.value().savepoint;
  }
  EXPECT_TRUE(savepoint) << "stop with savepoint wrote no savepoint";
  EXPECT_EQ(engine_.find("ck")->status().state, engine::JobState::kStopped);
}

TEST_F(HttpServerTest, ATokenIsRequiredWhenSet) {
  HttpServerOptions o;
  o.token = "0123456789abcdef-secret";
  start(o);
  auto res = client_->Get("/api/v1/jobs");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
  res = client_->Get("/api/v1/jobs", {{"Authorization", "Bearer wrong-token-of-same-len"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = client_->Get("/api/v1/jobs", {{"Authorization", "Bearer 0123456789abcdef-secret"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// On a non-loopback bind with a token nothing is served without it: not the dashboard's
// page or files, not /healthz or /metrics.
TEST_F(HttpServerTest, WithATokenOnANonLoopbackBindEveryPathNeedsIt) {
  ASSERT_TRUE(engine_.submit(follow_job(dir_, "clicks", false)).is_ok());
  HttpServerOptions o;
  o.host = "0.0.0.0";
  o.token = "0123456789abcdef-secret";
  o.metrics = [] { return std::string("# TYPE sluice_up gauge\nsluice_up 1\n"); };
  start(o);
  const httplib::Headers bearer = {{"Authorization", "Bearer 0123456789abcdef-secret"}};
  for (const char* path : {"/", "/dashboard/app.js", "/dashboard/index.html", "/dashboard/style.css",
                           "/dashboard/vendor/uplot/uPlot.iife.min.js", "/dashboard/vendor/uplot/LICENSE",
                           "/dashboard/no-such-file", "/healthz", "/metrics", "/api/v1/jobs", "/api/v1/jobs/clicks/plan",
                           "/api/v1/jobs/clicks/stream?table=out", "/no-such-path"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer") << path;
    EXPECT_EQ(res->body.find("uPlot"), std::string::npos) << path << " leaks the dashboard's code";
    EXPECT_EQ(res->body.find("clicks"), std::string::npos) << path << " leaks the job";
  }
  auto res = client_->Get("/dashboard/app.js", bearer);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = client_->Get("/healthz", bearer);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = client_->Get("/metrics", bearer);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// A browser signs in with the form GET / shows: POST /login with the right token sets a
// session cookie (not the token) that authenticates GET requests, never POST.
TEST_F(HttpServerTest, TheDashboardSignInSetsASessionCookieForGetRequestsOnly) {
  ASSERT_TRUE(engine_.submit(follow_job(dir_, "clicks", false)).is_ok());
  HttpServerOptions o;
  o.host = "0.0.0.0";
  o.token = "0123456789abcdef-secret";
  start(o);
  auto res = client_->Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_NE(res->body.find("<form method=\"post\" action=\"/login\">"), std::string::npos) << res->body;

  res = client_->Post("/login", "token=wrong-token-of-some-length", "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_FALSE(res->has_header("Set-Cookie"));
  EXPECT_NE(res->body.find("Wrong token."), std::string::npos);

  res = client_->Post("/login", "token=0123456789abcdef-secret", "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 303);
  EXPECT_EQ(res->get_header_value("Location"), "/");
  const std::string set_cookie = res->get_header_value("Set-Cookie");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos) << set_cookie;
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.find("0123456789abcdef-secret"), std::string::npos) << "the cookie must not hold the token";
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  ASSERT_EQ(cookie.rfind("sluice_session=", 0), 0u) << set_cookie;

  const httplib::Headers with_cookie = {{"Cookie", "theme=dark; " + cookie}};
  for (const char* path : {"/", "/dashboard/app.js", "/api/v1/jobs", "/api/v1/jobs/clicks/plan"}) {
    res = client_->Get(path, with_cookie);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
  res = client_->Get("/api/v1/jobs", {{"Cookie", "sluice_session=" + std::string(64, '0')}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << "a made-up session";
  res = client_->Post("/api/v1/jobs/clicks/stop", with_cookie, "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << "POST needs the bearer header";
  EXPECT_EQ(engine_.find("clicks")->status().state, engine::JobState::kRunning);
}

TEST_F(HttpServerTest, OversizedAndMalformedRequestsGet4xx) {
  HttpServerOptions o;
  o.max_body_bytes = 1024;
  start(o);
  auto res = client_->Post("/api/v1/jobs/x/stop", std::string(4096, 'x'), "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(raw("GARBAGE\r\n\r\n").substr(0, 12), "HTTP/1.1 400");
  EXPECT_EQ(raw("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n").substr(0, 12), "HTTP/1.1 414");
  std::string huge_header = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n";
  std::string status = raw(huge_header);
  EXPECT_TRUE(status.rfind("HTTP/1.1 4", 0) == 0 || status.empty()) << status;
  // The server still serves after the bad requests.
  res = client_->Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpServerTest, MetricsAreServedByTheRenderer) {
  HttpServerOptions o;
  o.metrics = [] { return std::string("# TYPE sluice_up gauge\nsluice_up 1\n"); };
  start(o);
  auto res = client_->Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "# TYPE sluice_up gauge\nsluice_up 1\n");
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
}

TEST(HttpOptions, ParsesAddressesAndRefusesAnOpenBindWithoutAToken) {
  auto a = http_options("127.0.0.1:8080", "");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a.value().host, "127.0.0.1");
  EXPECT_EQ(a.value().port, 8080);
  auto b = http_options("9090", "");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b.value().host, "127.0.0.1");
  EXPECT_EQ(b.value().port, 9090);
  EXPECT_TRUE(http_options("[::1]:80", "").is_ok());
  EXPECT_TRUE(http_options("localhost:80", "").is_ok());
  auto open = http_options("0.0.0.0:8080", "");
  ASSERT_FALSE(open.is_ok());
  EXPECT_NE(open.status().message().find("token"), std::string::npos);
  EXPECT_FALSE(http_options("127.0.0.1:99999", "").is_ok());
  EXPECT_FALSE(http_options("127.0.0.1:http", "").is_ok());

  TempDir dir;
  std::ofstream(dir.file("token")) << "  a-long-enough-token-123\n";
  ::chmod(dir.file("token").c_str(), 0644);
  EXPECT_FALSE(http_options("0.0.0.0:8080", dir.file("token")).is_ok()) << "a world-readable token file is refused";
  ::chmod(dir.file("token").c_str(), 0600);
  auto with = http_options("0.0.0.0:8080", dir.file("token"));
  ASSERT_TRUE(with.is_ok()) << with.status().message();
  EXPECT_EQ(with.value().token, "a-long-enough-token-123");
  std::ofstream(dir.file("short")) << "abc\n";
  ::chmod(dir.file("short").c_str(), 0600);
  EXPECT_FALSE(http_options("0.0.0.0:8080", dir.file("short")).is_ok());
}

}  // namespace
}  // namespace sluice::server

namespace sluice::server {
namespace {

// The nice value of each of this process's threads (field 19 of /proc/self/task/T/stat).
std::vector<int> thread_nice_values() {
  std::vector<int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t close = stat.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    for (int i = 3; i <= 19 && fields >> f; ++i) {
      if (i == 19) out.push_back(std::stoi(f));
    }
  }
  return out;
}

TEST_F(HttpServerTest, ServingThreadsRunAtTheLowestPriorityTheCallersDoNot) {
  const int caller = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  const std::vector<int> initial = thread_nice_values();
  const auto before = std::count(initial.begin(), initial.end(), 19);
  start();
  auto r = client_->Get("/api/v1/jobs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  std::vector<int> nice = thread_nice_values();
  // The listener and its worker pool are at nice 19; this (the caller's) thread is not.
  EXPECT_GE(std::count(nice.begin(), nice.end(), 19) - before, 2);
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), caller);
}

}  // namespace
}  // namespace sluice::server
