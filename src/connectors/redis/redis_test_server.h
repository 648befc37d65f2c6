// A throwaway Redis server for tests (test code, not part of the library): redis-server on a
// free loopback port with a temporary directory, no persistence, stopped at exit. A test
// that needs Redis calls RedisTestServer::shared(): the server of the test process, started
// on first use; when it cannot start, the test binary aborts with the reason (never skips).
#pragma once

#include <string>
#include <vector>

namespace sluice::testing {

class RedisTestServer {
 public:
  static RedisTestServer& shared();
  ~RedisTestServer();
  int port() const { return port_; }
  std::string url(int db = 0) const;
  // Runs one command (its words); the reply as text lines: a string, an integer, each
  // element of an array ("(nil)" for nil, "error: ..." for an error).
  std::vector<std::string> command(const std::vector<std::string>& args, int db = 0) const;
  // Shuts the server down and starts it again on the same port (its data is lost: no
  // persistence).
  bool restart();

 private:
  RedisTestServer() = default;
  bool start();
  std::string dir_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace sluice::testing
