#include "connectors/redis/redis_test_server.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace sluice::testing {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

void append_reply(std::vector<std::string>& out, const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: out.emplace_back(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.push_back("error: " + std::string(r->str, r->len)); break;
    case REDIS_REPLY_INTEGER: out.push_back(std::to_string(r->integer)); break;
    case REDIS_REPLY_NIL: out.push_back("(nil)"); break;
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < r->elements; ++i) append_reply(out, r->element[i]);
      break;
    default: break;
  }
}

}  // namespace

RedisTestServer& RedisTestServer::shared() {
  static std::once_flag once;
  static RedisTestServer* server = nullptr;
  std::call_once(once, [] {
    server = new RedisTestServer();
    if (!server->start()) {
      std::fprintf(stderr, "RedisTestServer: redis-server did not start (scripts/install-deps.sh installs the "
                           "'redis-server' package); see %s/log\n", server->dir_.c_str());
      std::abort();
    }
    std::atexit([] { delete server; });
  });
  return *server;
}

bool RedisTestServer::start() {
  if (dir_.empty()) {
    char tmpl[] = "/tmp/sluice-redis-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return false;
    dir_ = tmpl;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = free_port();
    const std::string cmd = fmt::format(
        "redis-server --port {} --bind 127.0.0.1 --dir '{}' --save '' --appendonly no --daemonize yes --pidfile "
        "'{}/redis.pid' --logfile '{}/log' > /dev/null 2>&1",
        port_, dir_, dir_, dir_);
    if (std::system(cmd.c_str()) != 0) continue;
    for (int i = 0; i < 200; ++i) {  // up to 10 s
      auto pong = command({"PING"});
      if (!pong.empty() && pong[0] == "PONG") {
        started_ = true;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return false;
}

bool RedisTestServer::restart() {
  (void)command({"SHUTDOWN", "NOSAVE"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int port = port_;
  for (int i = 0; i < 100; ++i) {
    const std::string cmd = fmt::format(
        "redis-server --port {} --bind 127.0.0.1 --dir '{}' --save '' --appendonly no --daemonize yes --pidfile "
        "'{}/redis.pid' --logfile '{}/log' > /dev/null 2>&1",
        port, dir_, dir_, dir_);
    if (std::system(cmd.c_str()) == 0) {
      for (int k = 0; k < 100; ++k) {
        auto pong = command({"PING"});
        if (!pong.empty() && pong[0] == "PONG") return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

RedisTestServer::~RedisTestServer() {
  if (started_) (void)command({"SHUTDOWN", "NOSAVE"});
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string RedisTestServer::url(int db) const { return fmt::format("redis://127.0.0.1:{}/{}", port_, db); }

std::vector<std::string> RedisTestServer::command(const std::vector<std::string>& args, int db) const {
  std::vector<std::string> out;
  timeval timeout{5, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
  if (c == nullptr || c->err) {
    out.push_back(std::string("error: ") + (c ? c->errstr : "out of memory"));
    if (c) redisFree(c);
    return out;
  }
  if (db != 0) freeReplyObject(redisCommand(c, "SELECT %d", db));
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
  if (r) {
    append_reply(out, r);
    freeReplyObject(r);
  } else {
    out.push_back(std::string("error: ") + c->errstr);
  }
  redisFree(c);
  return out;
}

}  // namespace sluice::testing
