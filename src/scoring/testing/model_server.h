// A small real HTTP/JSON model server for tests, examples and the benchmark (not a mock:
// it serves HTTP over loopback with cpp-httplib, like any model server would).
//
// POST /score with a JSON object answers {"id": <the body's id, if any>, "model_version":
// <version>, "score": min(1, amount / 2000) rounded to 3 decimals} (amount: the body's
// numeric "amount", else 0); a JSON array of objects answers an array of such results (a
// micro-batch). Knobs for failure tests, changeable while it runs: a delay per request,
// a slower delay for bodies whose id is a multiple of `slow_id_mod`, a failure status
// answered instead, a count of requests to fail first.
//
// Threads: the server runs on its own threads (a pool of 64); the knobs are atomics.
#pragma once

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "scoring/testing/model.h"

namespace sluice::testing_scoring {

class ModelServer {
 public:
  std::atomic<int> delay_ms{0};
  std::atomic<int> slow_id_mod{0};  // 0: none
  std::atomic<int> slow_ms{0};
  std::atomic<int> fail_status{0};  // non-zero: every request is answered with it
  std::atomic<int> fail_first{0};   // the next N requests get 503
  std::atomic<int> requests{0};     // requests received
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::string model_version = "v1";

  static nlohmann::json score_one(const nlohmann::json& in, const std::string& version) {
    return score_request(in, version);
  }

  // Binds 127.0.0.1 on `port` (0: any free port) and serves on a thread. Returns the port, or -1.
  int start(int port = 0) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    // Answers go out at once (no Nagle wait for the ACK of the headers: 40 ms per
    // keep-alive request otherwise).
    server_.set_tcp_nodelay(true);
    // Debian's httplib listens with a backlog of 5: the sixth connect at once would wait for
    // a SYN retransmission (1 s). The listening socket is remembered and listen() again
    // raises it (Linux takes a new backlog on a listening socket).
    server_.set_socket_options([this](int fd) {
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      listen_fd_ = fd;
    });
    server_.Post("/score", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1") : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    if (port_ < 0) return -1;
    if (listen_fd_ >= 0) ::listen(listen_fd_, 1024);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return port_;
  }
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  ~ModelServer() { stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/score"; }
  void wait() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    requests.fetch_add(1);
    const int now_in = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now_in > seen && !max_in_flight.compare_exchange_weak(seen, now_in)) {
    }
    struct Done {
      std::atomic<int>& n;
      ~Done() { n.fetch_sub(1); }
    } done{in_flight};
    nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    int sleep_ms = delay_ms.load();
    const int mod = slow_id_mod.load();
    if (mod > 0) {
      auto slow = [&](const nlohmann::json& x) {
        return x.is_object() && x.contains("id") && x["id"].is_number_integer() && x["id"].get<int64_t>() % mod == 0;
      };
      bool any = body.is_array() ? std::any_of(body.begin(), body.end(), slow) : slow(body);
      if (any) sleep_ms = std::max(sleep_ms, slow_ms.load());
    }
    if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    int first = fail_first.load();
    while (first > 0 && !fail_first.compare_exchange_weak(first, first - 1)) {
    }
    if (first > 0) {
      res.status = 503;
      return;
    }
    if (fail_status.load() != 0) {
      res.status = fail_status.load();
      return;
    }
    if (body.is_discarded()) {
      res.status = 400;
      return;
    }
    nlohmann::json out;
    if (body.is_array()) {
      out = nlohmann::json::array();
      for (const auto& x : body) out.push_back(score_one(x, model_version));
    } else {
      out = score_one(body, model_version);
    }
    res.set_content(out.dump(), "application/json");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  int listen_fd_ = -1;
};

}  // namespace sluice::testing_scoring
